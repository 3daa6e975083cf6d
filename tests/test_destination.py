"""Destination roots: their form, and the write check that runs before any job."""

import getpass
import logging
import os
from pathlib import Path

import pytest
from s3_server import CREDENTIALS

from snakemake_storage_plugin_ard_s3 import (
    StorageProvider,
    StorageProviderSettings,
    listing_ranges,
    tile_columns,
)
from ttc_ard.destination import DestinationError, check_writable, destination_root


@pytest.mark.parametrize(
    ("dest", "root"),
    [
        ("results/ard/", "results/ard"),
        ("/data/ttc/ard", "/data/ttc/ard"),
        ("s3://my-bucket/ard/v1/", "s3://my-bucket/ard/v1"),
        ("s3://my.bucket", "s3://my.bucket"),
    ],
)
def test_roots_lose_their_trailing_slash(dest, root):
    assert destination_root(dest) == root


@pytest.mark.parametrize(
    ("dest", "says"),
    [
        ("results/../ard", "'.' or '..' component"),
        ("./results/ard", "'.' or '..' component"),
        ("s3://bucket/ard/../other", "'.' or '..' component"),
        ("gs://bucket/ard", "gs:// is not supported"),
        ("S3://bucket/ard", "is not a valid S3 destination"),
        ("s3:/bucket/ard", "is not a valid S3 destination"),
        ("s3:", "is not a valid S3 destination"),
        ("s3:bucket", "is not a valid S3 destination"),
        ("s3://", "names no S3 bucket"),
        ("s3:///ard", "names no S3 bucket"),
        ("/", "is the root of the file system"),
        ("//", "is the root of the file system"),
        ("///", "is the root of the file system"),
        ("~no-such-user-of-this-machine/ard", "names no user of this machine"),
        ("~/../ard", "'.' or '..' component"),
        ("s3://ab/ard", "'ab' is not a valid S3 bucket name"),
        ("s3://my_bucket/ard", "'my_bucket' is not a valid S3 bucket name"),
        ("s3://my..bucket/ard", "'my..bucket' is not a valid S3 bucket name"),
        ("s3://bucket//ard", "empty folder ('//')"),
    ],
)
def test_roots_that_could_misplace_files_are_refused(dest, says):
    with pytest.raises(DestinationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        destination_root(dest)


def test_a_home_folder_is_expanded_as_a_shell_would(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert destination_root("~/ard/") == f"{tmp_path}/ard"
    assert destination_root("~") == str(tmp_path)


def test_a_users_home_folder_is_expanded():
    home = os.path.expanduser(f"~{getpass.getuser()}")
    assert destination_root(f"~{getpass.getuser()}/ard") == f"{home}/ard"


def test_the_write_check_leaves_nothing_behind(tmp_path):
    root = tmp_path / "new" / "ard"
    check_writable(str(root), None)
    assert root.is_dir() and not list(root.iterdir())


def test_the_write_check_names_a_folder_that_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(
        DestinationError, match=f"Cannot write to the destination folder {tmp_path}"
    ):
        check_writable(str(tmp_path / "file" / "ard"), None)


def test_the_s3_write_check_leaves_no_object(s3_server, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = s3_server.client()
    client.create_bucket(Bucket="ttc-ard-write-check")
    check_writable("s3://ttc-ard-write-check/ard", s3_server.endpoint_url)
    assert "Contents" not in client.list_objects_v2(Bucket="ttc-ard-write-check")
    assert any(r.method == "PUT" and "/ard/" in r.path for r in s3_server.requests)


@pytest.mark.parametrize("first, last", [(1655, 1655), (950, 1249), (7, 12345), (1000, 1099)])
def test_the_listing_ranges_hold_every_key_of_the_columns_as_s3_sorts_them(first, last):
    """S3 lists keys in text order, where column 95 sorts after 1249: every key of a column
    from ``first`` to ``last`` lies in one of the ranges, one range per digit count."""
    ranges = listing_ranges(first, last)
    assert len(ranges) == len(str(last)) - len(str(first)) + 1

    def listed(column: int) -> bool:
        key = f"{column}/1083/raw/misc/dem_{column}X1083Y.hkl"
        return any(start < key < stop for start, stop in ranges)

    assert all(listed(column) for column in range(first, last + 1))


def test_the_provider_lists_each_year_from_the_first_to_the_last_column_of_the_run():
    tiles = [(2023, 1700, 1083), (2023, 950, 1090), (2024, 12, 1), (2023, 1200, 1)]
    provider = StorageProvider(
        logger=logging.getLogger(__name__),
        local_prefix=Path(".snakemake/storage/ard-s3"),
        settings=StorageProviderSettings(tile_columns=tile_columns(tiles)),
        keep_local=False,
        retrieve=False,
        is_default=False,
    )
    assert provider.column_ranges == {"2023": (950, 1700), "2024": (12, 12)}
