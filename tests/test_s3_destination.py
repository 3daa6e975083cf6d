"""S3 destinations end to end: the real workflow writing to a local S3 server (moto on loopback)
through the same code a run against AWS takes, only with ``s3_endpoint_url`` set."""

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import botocore.exceptions
import hickle
import numpy as np
import pandas as pd
import pytest
from lithops.constants import LITHOPS_TEMP_DIR
from s3_server import CREDENTIALS
from snakemake_storage_plugin_s3 import StorageProvider as UpstreamS3Provider
from snakemake_storage_plugin_s3 import StorageProviderSettings as UpstreamS3Settings
from workflow_runner import (
    Workflow,
    call_attempts,
    jobs_run,
    tile_numbers,
    truncated_copy,
    write_request,
)

from loaders.ard_io import hkl_writer, s3_client, write_file
from loaders.errors import DestinationWriteError
from snakemake_executor_plugin_lithops import remove_job_leftovers
from snakemake_executor_plugin_lithops.call_options import LoaderSpecs
from ttc_ard.keys import QA_KEY, ard_keys, record_keys

pytestmark = pytest.mark.workflow

TILES = ["1655X1083Y", "1656X1084Y"]
PRODUCTS = ["dem", "s2"]
BUCKET = "ttc-ard-test"
PREFIX = "ard/v1"


def contract_keys(tiles=TILES, products=PRODUCTS) -> list[str]:
    return [key for tile in tiles for key in ard_keys(2023, *tile_numbers(tile), products)]


def qa_keys(tiles=TILES, products=PRODUCTS) -> list[str]:
    return [
        QA_KEY.format(year=2023, x_tile=x_tile, y_tile=y_tile, product=product)
        for x_tile, y_tile in map(tile_numbers, tiles)
        for product in products
    ]


def s3_workflow(workdir: Path, archive: Path, tiles: list[str], s3_server, bucket: str):
    request = write_request(workdir / "request.json", {"2023": tiles})
    workflow = Workflow(workdir, archive, request)
    workflow.env |= CREDENTIALS
    workflow.config |= {
        "dest": f"s3://{bucket}/{PREFIX}",
        "s3_endpoint_url": s3_server.endpoint_url,
        "products": f"[{', '.join(PRODUCTS)}]",
    }
    return workflow


def objects(client, bucket: str) -> dict[str, dict]:
    """Key -> listing entry of every object in ``bucket``."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {entry["Key"]: entry for page in pages for entry in page.get("Contents", [])}


def load_object(client, bucket: str, key: str, folder: Path) -> np.ndarray:
    path = folder / key.replace("/", "_")
    client.download_file(bucket, key, str(path))
    return hickle.load(path)


def files_changed_since(folder: Path, started: float) -> list[Path]:
    """The files under ``folder`` changed since ``started``, skipping what vanishes meanwhile
    (Lithops's cleaner deletes job data in the background)."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime >= started:
                    found.append(path)
    return found


def text_of(path: Path) -> str:
    """A file's bytes as text; empty if it is gone (Lithops's cleaner runs in the background)."""
    try:
        return path.read_bytes().decode("latin-1")
    except FileNotFoundError:
        return ""


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory, demo_archive, s3_server):
    """One run of two tiles (DEM and S2) into ``s3://ttc-ard-test/ard/v1``."""
    started = time.time()
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    workflow = s3_workflow(
        tmp_path_factory.mktemp("s3_run"), demo_archive, TILES, s3_server, BUCKET
    )
    first = workflow.run()
    return workflow, first, client, started


@pytest.fixture(scope="module")
def local_dest(tmp_path_factory, demo_archive) -> Path:
    """The same request built into a local folder."""
    workdir = tmp_path_factory.mktemp("local_run")
    request = write_request(workdir / "request.json", {"2023": TILES})
    Workflow(workdir, demo_archive, request).run(products=f"[{', '.join(PRODUCTS)}]")
    return workdir / "results/ard"


def test_every_output_is_an_object_at_its_contract_key(s3_run):
    workflow, _, client, _ = s3_run
    expected = {f"{PREFIX}/{key}" for key in contract_keys() + qa_keys()}
    # Nothing else: no temporary objects, no leftover write check.
    assert set(objects(client, BUCKET)) == expected
    # The workers wrote to S3 themselves: no copy of an output on this machine.
    assert not list(workflow.workdir.rglob("*.hkl"))


def test_payloads_equal_those_of_a_local_run(s3_run, local_dest, tmp_path):
    _, _, client, _ = s3_run
    for key in contract_keys():
        from_s3 = load_object(client, BUCKET, f"{PREFIX}/{key}", tmp_path)
        local = hickle.load(local_dest / key)
        assert from_s3.dtype == local.dtype and from_s3.shape == local.shape, key
        assert np.array_equal(from_s3, local, equal_nan=True), key


def output_of(run: subprocess.CompletedProcess) -> str:
    """What Snakemake printed: a dry run's jobs go to stdout, its log to stderr."""
    return run.stdout + run.stderr


def tile_jobs(plan: str) -> list[str]:
    """The rules of the tile jobs a plan lists."""
    return re.findall(r"^\s*rule (dem|s1|s2):", plan, re.MULTILINE)


def listing_requests(s3_server) -> list:
    return [r for r in s3_server.requests if r.method == "GET" and "prefix=" in r.query]


def test_second_run_lists_the_year_folder_once_and_asks_for_no_object(s3_run, s3_server):
    workflow, _, _, _ = s3_run
    s3_server.requests.clear()
    again = workflow.run()
    assert "Nothing to be done" in again.stderr
    listings = listing_requests(s3_server)
    assert len(listings) == 1 and f"prefix={PREFIX}/2023/raw/" in unquote(listings[0].query)
    # Apart from the listings, only the bucket itself is checked: no HEAD or GET per object.
    others = [r for r in s3_server.requests if r not in listings]
    assert {(r.method, r.path) for r in others} == {("HEAD", f"/{BUCKET}")}


def finished_row_of_tiles(tmp_path, demo_archive, s3_server, bucket: str, x_tiles: range):
    """A tile DB of one row of tiles, a request of all of them and a bucket holding all their
    objects (ARD files and records of DEM, S1, S2): the workflow that plans them, and the keys."""
    tiles = pd.DataFrame({"X_tile": np.array(x_tiles), "Y_tile": 1083})
    tiles["X"] = -180 + (tiles.X_tile + 0.5) / 18
    tiles["Y"] = -90 + (tiles.Y_tile + 0.5) / 18
    tiledb = tmp_path / "tiles.parquet"
    tiles[["X", "Y", "Y_tile", "X_tile"]].to_parquet(tiledb, index=False)
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    products = ["dem", "s1", "s2"]
    keys = [
        f"{PREFIX}/{key}"
        for x_tile, y_tile in zip(tiles.X_tile, tiles.Y_tile, strict=True)
        for key in ard_keys(2023, x_tile, y_tile, products)
        + record_keys(2023, x_tile, y_tile, products)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key), keys))

    ids = [f"{x}X{y}Y" for x, y in zip(tiles.X_tile, tiles.Y_tile, strict=True)]
    workflow = s3_workflow(tmp_path, demo_archive, ids, s3_server, bucket)
    workflow.config |= {
        "tiledb": str(tiledb),
        "source": "earth-search",
        "products": "[dem, s1, s2]",
    }
    return workflow, keys


def test_a_year_folder_of_many_finished_tiles_costs_a_listing_per_1000_objects(
    tmp_path, demo_archive, s3_server
):
    """The plan of a request whose tiles are all finished: Snakemake learns it from the year
    folder's listing, paginated (1,000 keys a page), not from a request per tile folder."""
    workflow, keys = finished_row_of_tiles(
        tmp_path, demo_archive, s3_server, "ttc-ard-many", range(1000, 1300)
    )
    s3_server.requests.clear()
    plan = output_of(workflow.run("-n"))
    assert tile_jobs(plan) == [], plan[-3000:]
    # 3,600 objects: four pages, where a listing per tile folder took 300 requests.
    assert len(keys) == 3600 and len(listing_requests(s3_server)) == 4
    assert all(r.method != "HEAD" or r.path == "/ttc-ard-many" for r in s3_server.requests)


def test_a_batch_lists_only_its_strip_of_the_year_folder(tmp_path, demo_archive, s3_server):
    """Batch 1/2 of 300 finished tiles, columns 950 to 1249: its 150 columns (1,800 objects)
    cost three pages: 950-999 and 1000-1099 sort apart as text, and the other 1,800 objects
    are not listed."""
    workflow, keys = finished_row_of_tiles(
        tmp_path, demo_archive, s3_server, "ttc-ard-strip", range(950, 1250)
    )
    s3_server.requests.clear()
    plan = output_of(workflow.run("-n", batch="1/2"))
    assert "Batch 1/2: 150 of these tiles." in plan
    assert tile_jobs(plan) == [], plan[-3000:]
    listings = listing_requests(s3_server)
    assert len(keys) == 3600 and len(listings) == 3
    markers = [unquote(r.query).split("marker=")[1].split("&")[0] for r in listings]
    assert markers[:2] == [f"{PREFIX}/2023/raw/950/", f"{PREFIX}/2023/raw/1000/"]
    assert all(r.method != "HEAD" or r.path == "/ttc-ard-strip" for r in s3_server.requests)

    # A tile of the strip that is gone is planned, and only it: the listing names it absent.
    client = s3_server.client()
    gone = [key for key in keys if "/1099/1083/" in key and "/misc/dem_" in key]
    client.delete_object(Bucket="ttc-ard-strip", Key=gone[0])
    plan = output_of(workflow.run("-n", batch="1/2"))
    assert tile_jobs(plan) == ["dem"], plan[-3000:]
    assert "1099/1083" in plan


def test_deleting_one_object_reruns_exactly_its_job(s3_run, local_dest, tmp_path):
    workflow, _, client, _ = s3_run
    key = contract_keys(TILES[:1], ["s2"])[0]
    client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")

    # The plan: one S2 job, the other tile's six files present.
    assert re.search(r"^\s+s2\s+1\s+6\s+us-west-2", workflow.run("-n").stderr, re.MULTILINE)
    result = workflow.run()

    log = result.stdout + result.stderr
    assert jobs_run(log, "s2") == 1 and jobs_run(log, "dem") == 0
    restored = load_object(client, BUCKET, f"{PREFIX}/{key}", tmp_path)
    assert np.array_equal(restored, hickle.load(local_dest / key), equal_nan=True)


def test_a_failed_forced_rerun_keeps_the_objects_and_the_bucket(s3_run, demo_archive, tmp_path):
    workflow, _, client, _ = s3_run
    before = objects(client, BUCKET)
    broken = truncated_copy(tmp_path, demo_archive, "copernicus-dem-30m")

    result = workflow.run("--forcerun", "dem", check=False, demo_archive=broken)

    assert result.returncode != 0
    assert jobs_run(result.stdout + result.stderr, "dem") == len(TILES)
    assert "is corrupt at" in result.stderr and "dem    eu-central-1  0/2 (0 %)" in result.stderr
    after = objects(client, BUCKET)
    # Every object is still there, unchanged: a failed job does not delete what it would have
    # replaced, and the bucket is never removed.
    assert {key: entry["ETag"] for key, entry in after.items()} == {
        key: entry["ETag"] for key, entry in before.items()
    }
    client.head_bucket(Bucket=BUCKET)


def test_a_forced_rerun_replaces_the_objects_with_the_same_payloads(s3_run, tmp_path):
    workflow, _, client, _ = s3_run
    before = objects(client, BUCKET)
    result = workflow.run("--forcerun", "dem")

    assert jobs_run(result.stdout + result.stderr, "dem") == len(TILES)
    after = objects(client, BUCKET)
    for key in contract_keys(products=["dem"]):
        assert after[f"{PREFIX}/{key}"]["LastModified"] >= before[f"{PREFIX}/{key}"]["LastModified"]
        assert after[f"{PREFIX}/{key}"]["ETag"] == before[f"{PREFIX}/{key}"]["ETag"]
    assert set(after) == set(before)


def test_a_product_refused_while_its_files_are_put_in_place_is_redone(
    s3_run, s3_server, local_dest, tmp_path
):
    workflow, _, client, _ = s3_run
    before = objects(client, BUCKET)
    # The workers may write anything but the cloud files: S2 jobs upload their bands, then
    # are refused, after they had removed the product's record.
    no_clouds = {
        "Effect": "Deny",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}/*/clouds/*",
    }
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    restricted = s3_workflow(
        workflow.workdir, Path(workflow.config["demo_archive"]), TILES, s3_server, BUCKET
    )
    restricted.env |= s3_server.iam_user("ttc-ard-no-clouds", [everything, no_clouds])
    with s3_server.enforcing_policies():
        refused = restricted.run("--forcerun", "s2", check=False)
    assert refused.returncode != 0 and "S3 answered AccessDenied" in refused.stderr

    # A tile whose job was refused has lost its record, not only its cloud files' update: the
    # next plain run plans it again, and redoes it.
    left = objects(client, BUCKET)
    redone = [key for key in qa_keys(products=["s2"]) if f"{PREFIX}/{key}" not in left]
    assert redone
    plan = workflow.run("-n")
    assert re.search(rf"^\s+s2\s+{len(redone)}\s", plan.stdout + plan.stderr, re.MULTILINE)
    rerun = workflow.run()
    assert jobs_run(rerun.stdout + rerun.stderr, "s2") == len(redone)
    assert {key: entry["ETag"] for key, entry in objects(client, BUCKET).items()} == {
        key: entry["ETag"] for key, entry in before.items()
    }


def test_removing_every_output_keeps_the_bucket(tmp_path, demo_archive, s3_server):
    client = s3_server.client()
    client.create_bucket(Bucket="ttc-ard-remove")
    workflow = s3_workflow(tmp_path, demo_archive, TILES[:1], s3_server, "ttc-ard-remove")
    workflow.run(products="[dem]")
    outputs = {f"{PREFIX}/{key}" for key in contract_keys(TILES[:1], ["dem"])}
    outputs |= {f"{PREFIX}/{key}" for key in qa_keys(TILES[:1], ["dem"])}
    # The outputs (the DEM and its record) are all the bucket holds: removing them empties it.
    assert set(objects(client, "ttc-ard-remove")) == outputs
    twin = copy_bucket(client, "ttc-ard-remove", "ttc-ard-remove-upstream")

    workflow.run("--delete-all-output", products="[dem]")

    # Snakemake removed the outputs one by one through the storage plugin, and the bucket,
    # empty now, is still there.
    assert objects(client, "ttc-ard-remove") == {}
    client.head_bucket(Bucket="ttc-ard-remove")
    # Snakemake's own S3 plugin, removing the same objects, deletes the emptied bucket.
    upstream = upstream_s3_provider(s3_server, tmp_path)
    for key in outputs:
        upstream.object(f"s3://{twin}/{key}").remove()
    assert twin not in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}


def copy_bucket(client, bucket: str, twin: str) -> str:
    """A new bucket ``twin`` holding copies of ``bucket``'s objects."""
    client.create_bucket(Bucket=twin)
    for key in objects(client, bucket):
        client.copy_object(Bucket=twin, Key=key, CopySource={"Bucket": bucket, "Key": key})
    return twin


def upstream_s3_provider(s3_server, tmp_path: Path) -> UpstreamS3Provider:
    """Snakemake's S3 storage plugin (snakemake-storage-plugin-s3), on the local S3 server."""
    settings = UpstreamS3Settings(
        endpoint_url=s3_server.endpoint_url,
        access_key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return UpstreamS3Provider(
        local_prefix=tmp_path / "upstream", logger=logging.getLogger(__name__), settings=settings
    )


def test_a_missing_bucket_stops_before_anything_is_written(tmp_path, demo_archive, s3_server):
    workflow = s3_workflow(tmp_path, demo_archive, TILES, s3_server, "ttc-ard-absent")
    result = workflow.run(check=False)
    assert result.returncode != 0
    assert "The bucket ttc-ard-absent of dest = s3://ttc-ard-absent/ard/v1 does not exist" in (
        result.stderr
    )
    assert "aws s3 mb s3://ttc-ard-absent" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
    assert "ttc-ard-absent" not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}


def test_an_unreachable_endpoint_stops_before_anything_is_written(
    tmp_path, demo_archive, s3_server
):
    workflow = s3_workflow(tmp_path, demo_archive, TILES, s3_server, BUCKET)
    result = workflow.run(check=False, s3_endpoint_url="http://127.0.0.1:9")
    assert result.returncode != 0
    assert "Cannot reach the S3 endpoint http://127.0.0.1:9" in result.stderr
    assert "s3_endpoint_url" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def bucket_readable(bucket: str) -> list[dict]:
    """IAM statements to find a bucket and list and read its objects. (moto asks for
    ``s3:HeadBucket`` where AWS asks for ``s3:ListBucket``.)"""
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:HeadBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
    ]


def test_credentials_that_may_not_write_stop_the_run_before_any_job(
    tmp_path, demo_archive, s3_server
):
    bucket = "ttc-ard-read-only"
    s3_server.client().create_bucket(Bucket=bucket)
    workflow = s3_workflow(tmp_path, demo_archive, TILES, s3_server, bucket)
    workflow.env |= s3_server.iam_user("ttc-ard-reader", bucket_readable(bucket))
    with s3_server.enforcing_policies():
        result = workflow.run(check=False)
    assert result.returncode != 0
    assert f"Access denied to write the destination s3://{bucket}/{PREFIX}" in result.stderr
    assert f"s3:PutObject and s3:DeleteObject on {bucket}" in result.stderr
    assert not jobs_run(result.stdout + result.stderr, "dem")
    assert not objects(s3_server.client(), bucket)


def test_credentials_that_may_not_delete_stop_the_run_before_any_job(
    tmp_path, demo_archive, s3_server
):
    # A tile job removes its product's record before replacing the files: without
    # s3:DeleteObject every job would compute its tile and then be refused.
    bucket = "ttc-ard-no-delete"
    s3_server.client().create_bucket(Bucket=bucket)
    put = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    workflow = s3_workflow(tmp_path, demo_archive, TILES, s3_server, bucket)
    workflow.env |= s3_server.iam_user("ttc-ard-no-delete", bucket_readable(bucket) + [put])
    with s3_server.enforcing_policies():
        result = workflow.run(check=False)
    assert result.returncode != 0
    assert f"Access denied to delete in the destination s3://{bucket}/{PREFIX}" in result.stderr
    assert "s3:DeleteObject" in result.stderr
    assert not jobs_run(result.stdout + result.stderr, "dem")


def test_workers_that_s3_refuses_fail_their_tile_and_no_further_call_starts(
    tmp_path, demo_archive, s3_server
):
    # The user's credentials pass the start-of-run check (they may write its probe), but the
    # workers' writes are refused: like a Lambda role without s3:PutObject on the prefix.
    bucket = "ttc-ard-probe-only"
    s3_server.client().create_bucket(Bucket=bucket)
    probe = {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:DeleteObject"],
        "Resource": f"arn:aws:s3:::{bucket}/{PREFIX}/.ttc-ard-write-check-*",
    }
    workflow = s3_workflow(tmp_path, demo_archive, TILES, s3_server, bucket)
    workflow.env |= s3_server.iam_user("ttc-ard-prober", bucket_readable(bucket) + [probe])
    with s3_server.enforcing_policies():
        result = workflow.run("--jobs", "1", check=False, products="[dem]")
    assert result.returncode != 0

    attempts = call_attempts(tmp_path)
    assert [(a["attempt"], a["reason"]) for a in attempts] == [
        (1, "destination"),
        (0, "destination"),
    ]
    assert "S3 answered AccessDenied" in attempts[0]["error"]
    assert f"s3:PutObject and s3:DeleteObject on an existing bucket {bucket}" in result.stderr
    assert not objects(s3_server.client(), bucket)


def test_credentials_never_reach_a_file_or_the_log(s3_run, s3_server):
    workflow, first, client, started = s3_run
    secrets = [CREDENTIALS["AWS_SECRET_ACCESS_KEY"], CREDENTIALS["AWS_ACCESS_KEY_ID"]]
    written = [p for p in workflow.workdir.rglob("*") if p.is_file()]
    # Lithops's own files of the run (job payloads, call statuses, logs).
    written += files_changed_since(Path(LITHOPS_TEMP_DIR), started)
    assert len(written) > 20
    texts = [first.stdout, first.stderr] + [text_of(p) for p in written]
    texts += [
        client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("latin-1")
        for key in objects(client, BUCKET)
    ]
    for secret in secrets:
        assert not [text for text in texts if secret in text]


def test_a_worker_writing_into_a_bucket_that_is_gone_says_so(s3_server, monkeypatch):
    # The bucket was there when the run started (it is checked then), and deleted since; the
    # executor does not retry this error and starts no further call.
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DestinationWriteError, match="NoSuchBucket.*existing bucket ttc-ard-gone"):
        write_file(
            "s3://ttc-ard-gone/ard/x.hkl", hkl_writer(np.zeros((2, 2))), s3_server.endpoint_url
        )


BIG_UPLOAD = 9 * 2**20  # over boto3's 8 MB multipart threshold: uploaded in two parts


def big_array() -> np.ndarray:
    """Noise that gzip cannot shrink below BIG_UPLOAD: an S2 tile of real size."""
    return np.random.default_rng(0).integers(0, 2**16, BIG_UPLOAD // 2 + 4096, dtype=np.uint16)


def test_an_upload_that_fails_partway_leaves_no_unfinished_upload(s3_server, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = s3_server.client()
    client.create_bucket(Bucket="ttc-ard-multipart")
    url = "s3://ttc-ard-multipart/ard/s2_10/x.hkl"

    def connection_drops_on_the_second_part(request, **_):
        if "partNumber=2" in request.url:
            raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)

    events = s3_client(s3_server.endpoint_url).meta.events
    events.register("before-send.s3.UploadPart", connection_drops_on_the_second_part)
    try:
        with pytest.raises(Exception) as failure:
            write_file(url, hkl_writer(big_array()), s3_server.endpoint_url)
    finally:
        events.unregister("before-send.s3.UploadPart", connection_drops_on_the_second_part)

    # A transient fault, retried by the executor, not a refusal; the upload was aborted.
    assert not isinstance(failure.value, DestinationWriteError)
    assert not client.list_multipart_uploads(Bucket="ttc-ard-multipart").get("Uploads")
    assert not objects(client, "ttc-ard-multipart")


#: A writer that uploads a big file and hangs before its second part, until it is killed.
HANGING_WRITER = """
import sys, time
import numpy as np
from loaders.ard_io import hkl_writer, s3_client, write_file
url, endpoint, size = sys.argv[1:]
hang = lambda request, **_: time.sleep(600) if "partNumber=2" in request.url else None
s3_client(endpoint).meta.events.register("before-send.s3.UploadPart", hang)
array = np.random.default_rng(0).integers(0, 2**16, int(size), dtype=np.uint16)
write_file(url, hkl_writer(array), endpoint)
"""


def test_an_upload_killed_partway_is_aborted_before_its_job_is_retried(s3_server):
    client = s3_server.client()
    client.create_bucket(Bucket="ttc-ard-killed")
    url = "s3://ttc-ard-killed/ard/s2_10/x.hkl"
    size = str(big_array().size)
    writer = subprocess.Popen(
        [sys.executable, "-c", HANGING_WRITER, url, s3_server.endpoint_url, size],
        env=os.environ | CREDENTIALS,
    )
    deadline = time.monotonic() + 60
    while not (uploads := client.list_multipart_uploads(Bucket="ttc-ard-killed").get("Uploads")):
        assert time.monotonic() < deadline and writer.poll() is None, "the upload never started"
        time.sleep(0.2)
    parts = lambda: client.list_parts(  # noqa: E731
        Bucket="ttc-ard-killed", Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
    ).get("Parts", [])
    while not parts():
        assert time.monotonic() < deadline, "the first part never arrived"
        time.sleep(0.2)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    # Killed: its parts stay on S3, billed, until someone aborts the upload.
    assert client.list_multipart_uploads(Bucket="ttc-ard-killed").get("Uploads")

    # What the executor does with a failed call's outputs before the retry.
    remove_job_leftovers(failed_call({"s2_10": url}, s3_server.endpoint_url))

    assert not client.list_multipart_uploads(Bucket="ttc-ard-killed").get("Uploads")
    assert not objects(client, "ttc-ard-killed")


def failed_call(outputs: dict[str, str], endpoint_url: str) -> SimpleNamespace:
    """The executor's view of a failed call writing ``outputs`` (the parts it reads)."""
    spec = {"outputs": outputs, "qa": outputs[next(iter(outputs))] + ".json"}
    spec["s3_endpoint_url"] = endpoint_url
    loader = LoaderSpecs(lambda _: spec)
    return SimpleNamespace(job=SimpleNamespace(wildcards={}, params=SimpleNamespace(loader=loader)))
