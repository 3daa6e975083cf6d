"""Fixtures shared by the test modules."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from file_systems import filled_tmpfs
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


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """A destination folder with no space left (see file_systems.filled_tmpfs)."""
    folder = tmp_path / "full_disk"
    folder.mkdir()
    with filled_tmpfs(folder):
        yield folder
