"""The demo archive's files in moto's S3, at the keys the real buckets use.

Each top-level folder of the archive named after a bucket becomes that bucket, its files
objects at their paths relative to the folder. moto runs in a thread of this process on
loopback; its buckets live in moto's in-process backend (shared by every moto server of the
process, so two served archives in one process share them).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from demo_archive.geoid import GEOID_FOLDER

#: The buckets published, named as on AWS; each is the archive's folder of the same name.
#: ``geoid`` holds the demo's geoid grid, which real runs read from PROJ's CDN over https: the
#: served archive gives it as a plain http URL of the bucket's object (anonymous, path-style).
BUCKETS = ("sentinel-cogs", "sentinel-s1-l1c", "copernicus-dem-30m", GEOID_FOLDER)
#: Buckets whose readers pay for requests and transfer on AWS. The proxy enforces it: moto
#: (5.2) neither enforces nor even stores a bucket's request-payment setting.
REQUESTER_PAYS_BUCKETS = frozenset({"sentinel-s1-l1c"})
#: Buckets anyone may read, signed or not, as on AWS.
PUBLIC_BUCKETS = frozenset(BUCKETS) - REQUESTER_PAYS_BUCKETS
#: Credentials moto accepts; fake, the same as the tests' S3 server's.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIATTCARDTESTKEY000",
    "AWS_SECRET_ACCESS_KEY": "ttc-ard-fake-secret-7f3c9e1b2d",
    "AWS_DEFAULT_REGION": "us-east-1",
}
#: Uploads in flight at once: moto answers in threads, and files are small.
UPLOAD_THREADS = 8


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a line on stderr per request (the proxy logs them), and
    without Nagle's algorithm, which would hold each answer's body for the proxy's delayed ACK
    (40 ms) on the connection the proxy keeps to moto."""

    disable_nagle_algorithm = True

    def log_request(self, *args) -> None:
        pass


class MotoS3:
    """moto's server on ``127.0.0.1`` at a free port, in a thread of this process."""

    def __init__(self) -> None:
        application = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1", 0, application, threaded=True, request_handler=QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self):
        """A boto3 S3 client of this server (direct, not through the proxy)."""
        return s3_client(self.endpoint_url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def s3_client(endpoint_url: str):
    """A boto3 S3 client of ``endpoint_url`` with :data:`CREDENTIALS`."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def archive_objects(archive: Path) -> list[tuple[str, str, Path]]:
    """Every file to publish as ``(bucket, key, path)``, in path order."""
    return [
        (bucket, path.relative_to(archive / bucket).as_posix(), path)
        for bucket in BUCKETS
        for path in sorted((archive / bucket).rglob("*"))
        if path.is_file()
    ]


def publish(archive: Path, endpoint_url: str) -> int:
    """Create the buckets (emptying any left from before) and upload the archive's files to
    them, public ones readable by anyone; the number of objects uploaded."""
    client = s3_client(endpoint_url)
    for bucket in BUCKETS:
        create_empty_bucket(client, bucket)
    objects = archive_objects(archive)

    def upload(entry: tuple[str, str, Path]) -> None:
        bucket, key, path = entry
        put_object(client, bucket, key, path.read_bytes())

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        # list() re-raises the first failed upload.
        list(pool.map(upload, objects))
    return len(objects)


def put_object(client, bucket: str, key: str, body: bytes) -> None:
    """Store ``body`` at ``key`` as the archive's objects are stored: readable by anyone in a
    public bucket. moto refuses unsigned reads (HEAD included) of an object that is not
    public-read, so an object put back without this ACL answers 403 to the loaders."""
    acl = "public-read" if bucket in PUBLIC_BUCKETS else "private"
    client.put_object(Bucket=bucket, Key=key, Body=body, ACL=acl)


def create_empty_bucket(client, bucket: str) -> None:
    """``bucket``, new or emptied: moto's backend outlives a server, so a second archive
    served by the same process must not see the first one's objects."""
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
