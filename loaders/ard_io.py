"""Writing a tile's files so that no reader ever sees half of one.

A local file is written aside and renamed into place; an S3 object is written to a local
temporary file and uploaded whole (S3 shows an object only once its upload is complete).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import boto3
import boto3.exceptions
import botocore.exceptions
import hickle
import numpy as np

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
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private to its owner; outputs are ordinary readable files.
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partials(dest: str | os.PathLike) -> None:
    """Delete the temporary files that writers of ``dest`` left when they were killed.

    Only for when no writer of ``dest`` can still be running: a live writer would lose its file.
    """
    dest = Path(dest)
    for partial in dest.parent.glob(f".{dest.name}.*.partial"):
        partial.unlink(missing_ok=True)


def write_tile(spec: dict, qa: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write a tile's QA record (``spec["qa"]``, if given) and then each array to its output
    (``spec["outputs"][name]``): local paths or ``s3://`` URLs, on the S3 endpoint
    ``spec["s3_endpoint_url"]`` if given. The record goes first, so that an output that exists
    always has its record."""
    endpoint_url = spec.get("s3_endpoint_url")
    if "qa" in spec:
        write_json(qa, spec["qa"], endpoint_url)
    for name, array in arrays.items():
        write_hkl(array, spec["outputs"][name], endpoint_url)


def write_hkl(
    array: np.ndarray, dest: str | os.PathLike, s3_endpoint_url: str | None = None
) -> None:
    """Write one array as a gzip-compressed hickle file at ``dest``, atomically."""
    write_file(
        dest,
        lambda tmp: hickle.dump(np.ascontiguousarray(array), tmp, mode="w", compression="gzip"),
        s3_endpoint_url,
    )


def write_json(record: dict, dest: str | os.PathLike, s3_endpoint_url: str | None = None) -> None:
    """Write a JSON record at ``dest``, atomically."""
    write_file(
        dest,
        lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n"),
        s3_endpoint_url,
    )


def write_file(
    dest: str | os.PathLike, write: Callable[[str], object], s3_endpoint_url: str | None
) -> None:
    """``write(tmp)`` a file and put it at ``dest`` whole: a local path or an ``s3://`` URL.

    A destination that refuses the file raises :class:`DestinationWriteError`."""
    dest = os.fspath(dest)
    if not dest.startswith("s3://"):
        try:
            replace_atomically(dest, write)
        except OSError as err:
            if (refusal := refused_write(dest, err)) is None:
                raise
            raise refusal from err
        return
    bucket, key = split_s3_url(dest)
    with tempfile.TemporaryDirectory(prefix="ttc-ard-") as folder:
        tmp = os.path.join(folder, "upload")
        write(tmp)
        try:
            s3_client(s3_endpoint_url).upload_file(tmp, bucket, key)
        except (boto3.exceptions.S3UploadFailedError, botocore.exceptions.BotoCoreError) as err:
            if (refusal := refused_write(dest, err)) is None:
                raise
            raise refusal from err


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
            f"or credentials with s3:PutObject on the bucket, {after}"
        )
    refused = next((code for code in REFUSED_S3_CODES if code in str(err)), None)
    if refused is not None:
        return DestinationWriteError(
            f"Cannot write {dest}: S3 answered {refused}. The workers' credentials need "
            f"s3:PutObject on an existing bucket {split_s3_url(dest)[0]}; fix that, {after}"
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
