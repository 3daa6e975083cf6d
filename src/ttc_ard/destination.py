"""The destination root of the ARD files: a local folder or ``s3://bucket/prefix``.

Checked before anything runs, so that a destination that cannot take the outputs stops the run
with one clear message instead of failing every tile after its Lambda seconds were paid.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from loaders.ard_io import split_s3_url

#: S3's rules for bucket names (3-63 characters, lower case letters, digits, dots, hyphens).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

#: A URL's scheme, as in ``gs://bucket``: such a destination is no local folder.
URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
S3_SCHEME = "s3://"

#: Where the write check puts its probe, under the destination root; removed right after.
PROBE_KEY = ".ttc-ard-write-check-{token}"


class DestinationError(ValueError):
    """The destination cannot take the outputs; the message says why and how to fix it."""


def destination_root(dest: str) -> str:
    """The folder or ``s3://bucket[/prefix]`` the outputs go under, from ``dest`` as written:
    without trailing slashes, ``~`` expanded, after checking its form.

    No ``.`` or ``..`` component, so that no key can land outside the root, no empty
    component in an S3 prefix (S3 keys would then differ from the paths Snakemake checks),
    and not the root of the file system.
    """
    # Any case: 'S3:/bucket' is a mistyped S3 URL, not a local folder named 'S3:'.
    if dest[:3].lower() == "s3:":
        return s3_root(dest)
    scheme = URL_SCHEME.match(dest)
    if scheme:
        raise DestinationError(
            f"dest = {dest!r}: the scheme {scheme[1]}:// is not supported. Use a local folder "
            "(--config dest=results/ard) or an S3 prefix (--config dest=s3://bucket/prefix)."
        )
    return local_root(dest)


def s3_root(dest: str) -> str:
    """``dest``, which starts with ``s3:`` in some case, checked as ``s3://bucket[/prefix]``
    and without trailing slashes."""
    if not dest.startswith(S3_SCHEME):
        raise DestinationError(
            f"dest = {dest!r} is not a valid S3 destination: an S3 destination is written "
            "s3://bucket/prefix, 's3' in lower case followed by '://' and the bucket name. "
            "Write it that way, e.g. --config dest=s3://my-bucket/ard."
        )
    bucket, _, prefix = dest.removeprefix(S3_SCHEME).rstrip("/").partition("/")
    if not bucket:
        raise DestinationError(
            f"dest = {dest!r} names no S3 bucket: the bucket name comes right after 's3://'. "
            "Write it there, e.g. --config dest=s3://my-bucket/ard."
        )
    parts = prefix.split("/") if prefix else []
    if any(part in (".", "..") for part in parts):
        raise DestinationError(dot_components_message(dest))
    if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise DestinationError(
            f"dest = {dest!r}: {bucket!r} is not a valid S3 bucket name (3 to 63 lower "
            "case letters, digits, dots and hyphens). Use --config dest=s3://bucket/prefix."
        )
    if "" in parts:
        raise DestinationError(
            f"dest = {dest!r} has an empty folder ('//') in its prefix; S3 would store "
            "the keys differently from how the workflow checks them. Remove the extra '/'."
        )
    return "/".join([S3_SCHEME + bucket, *parts])


def local_root(dest: str) -> str:
    """The local folder ``dest`` names, ``~`` expanded, without trailing slashes."""
    # Shells expand '~' only at the start of a word, so neither in --config dest=~/ard nor in
    # a config file; whoever writes a path starting with '~' means a home folder, not a
    # folder named '~' in the working directory.
    root = os.path.expanduser(dest).rstrip(os.sep)
    if root.startswith("~"):
        user = dest.split(os.sep)[0]
        raise DestinationError(
            f"dest = {dest!r}: {user!r} names no user of this machine, so it cannot be "
            "expanded to a home folder. Write the folder as an absolute path, e.g. "
            "--config dest=/data/ttc/ard."
        )
    if not root:
        raise DestinationError(
            f"dest = {dest!r} is the root of the file system: the ARD files would be written "
            "into its top folders (/2023/raw/...). Pick a folder of their own, e.g. "
            "--config dest=/data/ttc/ard."
        )
    if any(part in (".", "..") for part in root.split(os.sep)):
        raise DestinationError(dot_components_message(dest))
    return root


def dot_components_message(dest: str) -> str:
    """Why a destination with a '.' or '..' component is refused, and what to write instead."""
    return (
        f"dest = {dest!r} has a '.' or '..' component, so the files could land outside "
        "the folder it names. Write the destination without them, e.g. an absolute path."
    )


def check_client(endpoint_url: str | None):
    """A client from the standard AWS credential chain that gives up quickly on a dead
    endpoint (the check runs before the run starts, a user is waiting)."""
    config = botocore.config.Config(
        connect_timeout=5, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"}
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


def check_bucket(root: str, endpoint_url: str | None) -> None:
    """Stop unless the S3 bucket of ``root`` exists and these credentials may use it."""
    bucket, _ = split_s3_url(root)
    try:
        check_client(endpoint_url).head_bucket(Bucket=bucket)
    except Exception as err:
        raise DestinationError(describe_s3_failure(root, endpoint_url, err, "read")) from None


def check_writable(root: str, endpoint_url: str | None) -> None:
    """Write and remove a probe under ``root``: the first write of the run, before any job."""
    token = uuid.uuid4().hex
    if not root.startswith("s3://"):
        probe = Path(root) / PROBE_KEY.format(token=token)
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise DestinationError(
                f"Cannot write to the destination folder {root} ({err.strerror}: "
                f"{err.filename}). Pick a folder you can write to with --config dest=PATH, or "
                "free space / fix its permissions."
            ) from None
        return
    bucket, prefix = split_s3_url(root)
    key = "/".join(filter(None, [prefix, PROBE_KEY.format(token=token)]))
    client = check_client(endpoint_url)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"")
    except Exception as err:
        raise DestinationError(describe_s3_failure(root, endpoint_url, err, "write")) from None
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except Exception as err:
        # A tile job removes its product's record before it replaces the files (see
        # loaders.ard_io.write_tile): without s3:DeleteObject every job would be refused
        # after its computation was paid.
        raise DestinationError(describe_s3_failure(root, endpoint_url, err, "delete in")) from None


def describe_s3_failure(root: str, endpoint_url: str | None, err: Exception, action: str) -> str:
    """One paragraph naming the destination, what failed and what to do."""
    bucket, _ = split_s3_url(root)
    where = f"the S3 endpoint {endpoint_url}" if endpoint_url else "AWS S3"
    if isinstance(err, botocore.exceptions.NoCredentialsError):
        return (
            f"No AWS credentials were found to {action} the destination {root}. Provide them "
            "through the standard AWS chain: AWS_PROFILE, AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or an instance/role profile."
        )
    if isinstance(err, botocore.exceptions.EndpointConnectionError | ConnectionError):
        return (
            f"Cannot reach {where} to {action} the destination {root} ({err}). Check the "
            "network, or s3_endpoint_url in the config."
        )
    if isinstance(err, botocore.exceptions.ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return (
                f"The bucket {bucket} of dest = {root} does not exist on {where}. Create it "
                f"(aws s3 mb s3://{bucket}) or point dest at an existing bucket."
            )
        if code in ("403", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId"):
            return (
                f"Access denied to {action} the destination {root} on {where} ({code}). The "
                f"credentials in use need s3:ListBucket, s3:PutObject and s3:DeleteObject on "
                f"{bucket}; check "
                "AWS_PROFILE or the role."
            )
        return f"S3 refused to {action} the destination {root} on {where}: {code} ({err})."
    return f"Cannot {action} the destination {root} on {where}: {type(err).__name__}: {err}."
