"""Writing a tile's files so that no reader ever sees half of one, nor files of two computations
counted as one product.

A local file is written aside and renamed into place; an S3 object is written to a local
temporary file and uploaded whole (S3 shows an object only once its upload is complete). A
product's files are put in place together, under a record written last (see
:func:`write_tile`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import boto3
import boto3.exceptions
import botocore.exceptions
import numpy as np

from loaders import qa
from loaders.errors import DestinationWriteError

#: Local write errors that stay until someone acts (a full disk or quota, no permission, a
#: read-only file system), with what to do about ``{folder}``.
REFUSED_WRITE_ERRNOS = {
    errno.ENOSPC: "free space on {folder}",
    errno.EDQUOT: "free space on {folder} (its quota is used up)",
    errno.EACCES: "make {folder} writable",
    errno.EPERM: "make {folder} writable",
    errno.EROFS: "remount the file system of {folder} writable",
}

#: S3 error codes that a retry would meet again.
REFUSED_S3_CODES = (
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "NoSuchBucket",
    "SignatureDoesNotMatch",
)


def replace_atomically(dest: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` on a temporary path next to ``dest``, then rename it over ``dest``.

    The temporary name (``.<name>.<random>.partial``) cannot pass for an output, and a killed
    writer leaves either the old file or none; a failed write removes its temporary file.
    """
    tmp = write_beside(dest, write)
    try:
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_beside(dest: str | os.PathLike, write: Callable[[str], object]) -> str:
    """``write(tmp)`` a file at a temporary path next to ``dest``; that path."""
    folder = Path(dest).parent
    folder.mkdir(parents=True, exist_ok=True)
    return write_temporary(write, folder, prefix=f".{Path(dest).name}.", suffix=".partial")


def write_temporary(
    write: Callable[[str], object], folder: Path | None, prefix: str, suffix: str
) -> str:
    """``write(tmp)`` a readable file at a new temporary path in ``folder`` (the system's
    temporary folder if None); that path. On failure the file is removed and the error raised."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private to its owner; outputs are ordinary readable files.
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def remove_partials(dest: str | os.PathLike) -> None:
    """Delete the temporary files that writers of ``dest`` left when they were killed.

    Only for when no writer of ``dest`` can still be running: a live writer would lose its file.
    """
    dest = Path(dest)
    for partial in dest.parent.glob(f".{dest.name}.*.partial"):
        partial.unlink(missing_ok=True)


def abort_unfinished_uploads(url: str, s3_endpoint_url: str | None) -> None:
    """Abort the multipart uploads of the object ``url`` that a killed writer left unfinished:
    S3 keeps their parts, and bills them, until they are aborted. (A failed upload aborts its
    own; a killed one cannot.) Only for when no writer of ``url`` can still be running."""
    bucket, key = split_s3_url(url)
    client = s3_client(s3_endpoint_url)
    listing = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    for upload in listing.get("Uploads", []):
        if upload["Key"] == key:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])


def write_tile(
    outputs: Mapping[str, str],
    record_path: str,
    record: dict,
    arrays: Mapping[str, np.ndarray],
    s3_endpoint_url: str | None = None,
) -> None:
    """Write one product of a tile as a unit: each array to its output (``outputs[name]``),
    then its QA ``record`` at ``record_path``, which marks the product complete. Outputs are
    local paths or ``s3://`` URLs, on the S3 endpoint ``s3_endpoint_url`` if given.

    Every file is staged whole first; only then is the old record removed, the files put in
    place, and the record, with each file's SHA-256, written last. A failure while staging
    leaves the previous computation untouched and complete; a failure after that leaves no
    record, so the workflow (whose output the record is) counts the product as not done and
    the next run redoes it. Never a record beside files of another computation.
    """
    staged: list[StagedFile] = []
    try:
        files = {}
        for name, array in arrays.items():
            staged.append(stage(outputs[name], hkl_writer(array)))
            files[name] = file_digest(staged[-1].tmp)
        staged.append(stage(record_path, json_writer(record | {qa.FILES: files})))
        remove(record_path, s3_endpoint_url)
        for file in staged:
            put(file, s3_endpoint_url)
    finally:
        for file in staged:
            Path(file.tmp).unlink(missing_ok=True)


def write_json(record: dict, dest: str | os.PathLike, s3_endpoint_url: str | None = None) -> None:
    """Write one JSON record at ``dest``, atomically."""
    write_file(dest, json_writer(record), s3_endpoint_url)


def write_file(
    dest: str | os.PathLike, write: Callable[[str], object], s3_endpoint_url: str | None
) -> None:
    """``write(tmp)`` one file and put it at ``dest`` whole: a local path or an ``s3://`` URL.

    A destination that refuses the file raises :class:`DestinationWriteError`."""
    file = stage(os.fspath(dest), write)
    try:
        put(file, s3_endpoint_url)
    finally:
        Path(file.tmp).unlink(missing_ok=True)


def hkl_writer(array: np.ndarray) -> Callable[[str], object]:
    """Writes ``array`` as a gzip-compressed hickle file (the contract's format)."""

    def write(tmp: str) -> None:
        # Here, not at the top: hickle (and h5py) live in the worker image only, and the
        # workflow side imports this module to clean up after workers.
        import hickle

        hickle.dump(np.ascontiguousarray(array), tmp, mode="w", compression="gzip")

    return write


def json_writer(record: dict) -> Callable[[str], object]:
    """Writes ``record`` as indented JSON with sorted keys (the same bytes for the same record)."""
    return lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def file_digest(path: str) -> dict:
    """What a record says of a file it vouches for: its size and SHA-256."""
    with open(path, "rb") as file:
        return {
            "bytes": os.fstat(file.fileno()).st_size,
            "sha256": hashlib.file_digest(file, "sha256").hexdigest(),
        }


@dataclasses.dataclass(frozen=True)
class StagedFile:
    """A file written whole at ``tmp``, waiting to be put at ``dest``."""

    dest: str
    tmp: str


def stage(dest: str, write: Callable[[str], object]) -> StagedFile:
    """``write(tmp)`` a file for ``dest``. For a local ``dest`` the temporary file lies beside
    it (so that putting it in place is a rename, and a destination that refuses files refuses
    it now, before anything was replaced); for S3 in this machine's temporary folder."""
    if is_s3(dest):
        return StagedFile(dest, write_temporary(write, None, prefix="ttc-ard-", suffix=".upload"))
    with refusals_named(dest):
        tmp = write_beside(dest, write)
    return StagedFile(dest, tmp)


def put(file: StagedFile, s3_endpoint_url: str | None) -> None:
    """Put a staged file at its destination: a rename, or an upload of the whole file."""
    with refusals_named(file.dest):
        if is_s3(file.dest):
            s3_client(s3_endpoint_url).upload_file(file.tmp, *split_s3_url(file.dest))
        else:
            os.replace(file.tmp, file.dest)


def remove(dest: str, s3_endpoint_url: str | None) -> None:
    """Remove ``dest`` if it exists."""
    with refusals_named(dest):
        if is_s3(dest):
            bucket, key = split_s3_url(dest)
            s3_client(s3_endpoint_url).delete_object(Bucket=bucket, Key=key)
        else:
            Path(dest).unlink(missing_ok=True)


@contextlib.contextmanager
def refusals_named(dest: str):
    """Turn an error of writing ``dest`` that the destination will repeat (see
    :func:`refused_write`) into a :class:`DestinationWriteError` naming the fix."""
    try:
        yield
    except (
        OSError,
        boto3.exceptions.S3UploadFailedError,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
    ) as err:
        if (refusal := refused_write(dest, err)) is None:
            raise
        raise refusal from err


def is_s3(dest: str) -> bool:
    return dest.startswith("s3://")


def refused_write(dest: str, err: Exception) -> DestinationWriteError | None:
    """The error naming the fix if writing ``dest`` failed with ``err`` because the destination
    refuses it; None for a fault that the call's retry may not meet (a dropped connection, a
    throttled request)."""
    after = "then run again: finished tiles are kept and only the missing ones are computed."
    if isinstance(err, OSError) and err.errno in REFUSED_WRITE_ERRNOS:
        fix = REFUSED_WRITE_ERRNOS[err.errno].format(folder=os.path.dirname(dest))
        return DestinationWriteError(
            f"Cannot write {dest}: {os.strerror(err.errno)}. The destination refuses the "
            f"tile's outputs: {fix} or point dest at another folder (--config dest=PATH), {after}"
        )
    if isinstance(err, botocore.exceptions.NoCredentialsError):
        return DestinationWriteError(
            f"Cannot write {dest}: the worker found no AWS credentials. Give the workers a role "
            f"or credentials with s3:PutObject and s3:DeleteObject on the bucket, {after}"
        )
    refused = next((code for code in REFUSED_S3_CODES if code in str(err)), None)
    if refused is not None:
        return DestinationWriteError(
            f"Cannot write {dest}: S3 answered {refused}. The workers' credentials need "
            f"s3:PutObject and s3:DeleteObject on an existing bucket {split_s3_url(dest)[0]}; "
            f"fix that, {after}"
        )
    return None


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> (``bucket``, ``some/key``), no slash at either end."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


@functools.cache
def s3_client(endpoint_url: str | None):
    """One S3 client per endpoint and process, from the standard AWS credential chain."""
    return boto3.client("s3", endpoint_url=endpoint_url or None)
