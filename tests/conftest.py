"""Fixtures shared by the test modules."""

from pathlib import Path

import pytest
from s3_server import S3Server

pytest_plugins = ["outside_reads"]


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory) -> Path:
    """One demo scene archive for the whole test session (generated on first use)."""
    return tmp_path_factory.mktemp("demo_archive")


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto) on loopback for the whole test session."""
    server = S3Server()
    yield server
    server.stop()
