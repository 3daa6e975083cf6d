"""A local S3 server for the tests: moto's server on loopback, in a thread of the test process.

The workflow reaches it like a user's run reaches AWS (boto3 through ``s3_endpoint_url``); the
server keeps a log of the requests it answered, with the bytes of each answer's body, so that
tests can count listings, HEADs and downloads.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
from moto import settings
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

#: Credentials the server accepts; the secret is fake, so that tests can look for it in files.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIATTCARDTESTKEY000",
    "AWS_SECRET_ACCESS_KEY": "ttc-ard-fake-secret-7f3c9e1b2d",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a line on stderr per request (the log is kept below)."""

    def log_request(self, *args) -> None:
        pass


@dataclass(frozen=True)
class S3Request:
    method: str
    path: str
    query: str
    body_bytes: int = 0
    """Bytes of the answer's body, as its Content-Length announces (none for a HEAD)."""


@dataclass
class S3Server:
    """moto's S3 on ``127.0.0.1`` at a free port, logging every request it answers."""

    requests: list[S3Request] = field(default_factory=list)

    def __post_init__(self):
        moto = DomainDispatcherApplication(create_backend_app)

        def logged(environ, start_response):
            method = environ["REQUEST_METHOD"]
            answered: dict[str, str] = {}

            def starting(status, headers, *args):
                answered.update((name.lower(), value) for name, value in headers)
                return start_response(status, headers, *args)

            try:
                return moto(environ, starting)
            finally:
                length = 0 if method == "HEAD" else int(answered.get("content-length", 0))
                self.requests.append(
                    S3Request(
                        method,
                        environ.get("PATH_INFO", ""),
                        environ.get("QUERY_STRING", ""),
                        length,
                    )
                )

        self.server = make_server("127.0.0.1", 0, logged, True, request_handler=QuietRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self, service: str = "s3"):
        """A boto3 client of this server, for the tests' own reads and writes."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def iam_user(self, name: str, statements: list[dict]) -> dict[str, str]:
        """The credentials (as environment variables) of a new IAM user allowed ``statements``;
        they count only inside :meth:`enforcing_policies`."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return CREDENTIALS | {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }

    @contextlib.contextmanager
    def enforcing_policies(self) -> Iterator[None]:
        """Answer requests only as the IAM policies of their credentials allow, like AWS: from
        the first request in the block to its end (moto does not check them otherwise)."""
        previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        try:
            yield
        finally:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = previous

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
