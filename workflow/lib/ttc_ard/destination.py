"""The destination root of the ARD files: a local folder or ``s3://bucket/prefix``.

Checked before anything runs, so that a destination that cannot take the outputs stops the run
with one clear message instead of failing every tile after its Lambda seconds were paid.
"""

from __future__ import annotations

import contextlib
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

#: Where the write check puts its probe, under the destination root; removed right after.
PROBE_KEY = ".ttc-ard-write-check-{token}"


class DestinationError(ValueError):
    """The destination cannot take the outputs; the message says why and how to fix it."""


def destination_root(dest: str) -> str:
    """``dest`` without trailing slashes, after checking its form.

    A local folder or ``s3://bucket[/prefix]``; no ``.`` or ``..`` component, so that no key
    can land outside the root, and no empty component in an S3 prefix (S3 keys would then
    differ from the paths Snakemake checks).
    """
    root = dest.rstrip("/")
    scheme, separator, rest = root.partition("://")
    if separator and scheme != "s3":
        raise DestinationError(
            f"dest = {dest!r}: the scheme {scheme}:// is not supported. Use a local folder "
            "(--config dest=results/ard) or an S3 prefix (--config dest=s3://bucket/prefix)."
        )
    parts = rest.split("/") if separator else root.split(os.sep)
    if any(part in (".", "..") for part in parts):
        raise DestinationError(
            f"dest = {dest!r} has a '.' or '..' component, so the files could land outside "
            "the folder it names. Write the destination without them, e.g. an absolute path."
        )
    if separator:
        if not BUCKET_NAME.fullmatch(parts[0]) or ".." in parts[0]:
            raise DestinationError(
                f"dest = {dest!r}: {parts[0]!r} is not a valid S3 bucket name (3 to 63 lower "
                "case letters, digits, dots and hyphens). Use --config dest=s3://bucket/prefix."
            )
        if "" in parts[1:]:
            raise DestinationError(
                f"dest = {dest!r} has an empty folder ('//') in its prefix; S3 would store "
                "the keys differently from how the workflow checks them. Remove the extra '/'."
            )
    return root


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
    # Allowed to write but not to delete: the empty probe stays, harmless.
    with contextlib.suppress(botocore.exceptions.ClientError):
        client.delete_object(Bucket=bucket, Key=key)


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
                f"credentials in use need s3:ListBucket and s3:PutObject on {bucket}; check "
                "AWS_PROFILE or the role."
            )
        return f"S3 refused to {action} the destination {root} on {where}: {code} ({err})."
    return f"Cannot {action} the destination {root} on {where}: {type(err).__name__}: {err}."
