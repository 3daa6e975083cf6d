"""The demo archive served like AWS (demo_archive.served): real moto, real rustac, real GDAL,
on a small archive (tests/served.py)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.errors import RasterioIOError
from served import FOOTPRINT, SmallArchive, write_small_archive

from demo_archive.served import (
    CREDENTIALS,
    ArchiveNotFound,
    Faults,
    ServedArchive,
    serve_archive,
)
from demo_archive.served.publish import put_object, s3_client
from loaders.catalog import search
from loaders.reading import gdal_path
from loaders.spec import Catalog

SRC = Path(__file__).resolve().parents[1] / "src"
SLOWDOWN_XML = (
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory) -> SmallArchive:
    return write_small_archive(tmp_path_factory.mktemp("small_archive"))


@pytest.fixture(scope="module")
def log_path(tmp_path_factory) -> Path:
    """Where the module's served archive appends its S3 request log."""
    return tmp_path_factory.mktemp("served_log") / "requests.jsonl"


@pytest.fixture(scope="module")
def served(small_archive, log_path) -> Iterator[ServedArchive]:
    with serve_archive(small_archive.root, log_path=log_path) as served:
        yield served


@contextlib.contextmanager
def proxy_settings(served: ServedArchive, **changes) -> Iterator[None]:
    """The S3 proxy with ``changes`` for the block, its log cleared before; then as it was."""
    previous = served.configure()
    served.clear_requests()
    served.configure(**changes)
    try:
        yield
    finally:
        served.configure(
            latency_s=previous.latency_s,
            bandwidth_bytes_per_s=previous.bandwidth_bytes_per_s,
            faults=previous.faults,
        )


def get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET on a new connection (a reset raises ConnectionError)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_search(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def local_array(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return dataset.read()


def test_objects_land_at_the_real_keys_and_the_answers_stay_out(served, small_archive):
    client = s3_client(served.moto_endpoint_url)
    for bucket, keys in small_archive.objects.items():
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        assert {entry["Key"] for entry in listed} == keys
    assert served.object_count == sum(map(len, small_archive.objects.values()))
    buckets = {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}
    assert not buckets & {"demo-truth", "demo-coverage", "stac"}


def test_items_have_earth_search_hrefs(served, small_archive):
    def served_item(collection: str, item_id: str) -> dict:
        url = f"{served.stac_url}/collections/{collection}/items/{item_id}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)

    s2 = served_item("sentinel-2-l2a", small_archive.s2_item_ids[0])
    assert s2["assets"]["scl"]["href"] == (
        f"https://sentinel-cogs.s3.us-west-2.amazonaws.com/{small_archive.s2_scl_key}"
    )
    s1 = served_item(
        "sentinel-1-grd", "S1A_IW_GRDH_1SDV_20230211T182701_20230211T182839_047192_05AC59"
    )
    assert s1["assets"]["vv"]["href"] == f"s3://sentinel-s1-l1c/{small_archive.s1_vv_key}"
    assert s1["assets"]["safe-manifest"]["href"].startswith("s3://sentinel-s1-l1c/GRD/2023/2/11/")
    dem = served_item("cop-dem-glo-30", "Copernicus_DSM_COG_10_N06_00_W002_00_DEM")
    assert dem["assets"]["data"]["href"] == f"s3://copernicus-dem-30m/{small_archive.dem_key}"
    for record in (s2, s1, dem):
        assert all(urlsplit(link["href"]).scheme == "http" for link in record["links"])


def test_an_s2_asset_reads_at_its_href_without_credentials(served, small_archive):
    href = f"https://sentinel-cogs.s3.us-west-2.amazonaws.com/{small_archive.s2_scl_key}"
    # As the loaders read it: its s3:// URL, unsigned, through the sources' endpoint.
    settings = served.gdal_env(requester_pays=False) | {"AWS_NO_SIGN_REQUEST": "YES"}
    with rasterio.Env(**settings), rasterio.open(gdal_path(href)) as dataset:
        got = dataset.read()
    expected = local_array(small_archive.root / "sentinel-cogs" / small_archive.s2_scl_key)
    np.testing.assert_array_equal(got, expected)


def test_s1_reads_must_be_signed_and_pay(served, small_archive, monkeypatch):
    for name, value in served.credentials.items():
        monkeypatch.setenv(name, value)
    path = f"/vsis3/sentinel-s1-l1c/{small_archive.s1_vv_key}"
    # GDAL would otherwise remember a refusal, or a success, across the opens.
    uncached = {
        "CPL_VSIL_CURL_NON_CACHED": "/vsis3/sentinel-s1-l1c",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_MAX_RETRY": "0",
    }
    served.clear_requests()
    not_paying = served.gdal_env(requester_pays=False)
    with rasterio.Env(**not_paying, **uncached), pytest.raises(RasterioIOError):
        rasterio.open(path)
    unsigned = served.gdal_env() | {"AWS_NO_SIGN_REQUEST": "YES"}
    with rasterio.Env(**unsigned, **uncached), pytest.raises(RasterioIOError):
        rasterio.open(path)
    refused = served.requests()
    with rasterio.Env(**served.gdal_env(), **uncached), rasterio.open(path) as dataset:
        got = dataset.read()
    expected = local_array(small_archive.root / "sentinel-s1-l1c" / small_archive.s1_vv_key)
    np.testing.assert_array_equal(got, expected)
    assert refused and all(record.status == 403 for record in refused)
    status, body = get(f"{served.s3_endpoint_url}/sentinel-s1-l1c/{small_archive.s1_vv_key}")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_serving_requests_shows_in_the_hosts_cpu_seconds(served):
    blob = np.random.default_rng(2).bytes(2_000_000)
    put_object(s3_client(served.moto_endpoint_url), "sentinel-cogs", "test/cpu", blob)
    before = served.cpu_seconds()
    for _ in range(20):
        assert get(f"{served.s3_endpoint_url}/sentinel-cogs/test/cpu") == (200, blob)
    # 40 MB through moto and the proxy, in Python: not free, and not this process's CPU.
    assert served.cpu_seconds() - before > 0.01


def test_first_byte_delay_and_bandwidth_cap_show_in_the_log(served, log_path):
    blob = np.random.default_rng(1).bytes(150_000)
    put_object(s3_client(served.moto_endpoint_url), "sentinel-cogs", "test/blob", blob)
    latency_s, bandwidth = 0.05, 1_000_000
    with proxy_settings(served, latency_s=latency_s, bandwidth_bytes_per_s=bandwidth):
        for _ in range(3):
            assert get(f"{served.s3_endpoint_url}/sentinel-cogs/test/blob") == (200, blob)
        records = served.requests()
    assert len(records) == 3
    for record in records:
        assert record.first_byte_s >= latency_s
        assert record.body_bytes == len(blob)
        # The body cannot leave faster than the cap; the margin covers float rounding only.
        assert record.total_s - record.first_byte_s >= 0.99 * len(blob) / bandwidth
    last_line = json.loads(log_path.read_text().splitlines()[-1])
    assert last_line["key"] == "test/blob" and last_line["body_bytes"] == len(blob)


def test_fault_shares_come_out_close_to_the_setting(served, small_archive):
    url = f"{served.s3_endpoint_url}/sentinel-cogs/{small_archive.s2_scl_key}"
    outcomes: Counter[str] = Counter()
    with proxy_settings(served, faults=Faults(slowdown_share=0.2, reset_share=0.1, seed=11)):
        for _ in range(200):
            try:
                status, body = get(url)
            except ConnectionError:  # http.client's RemoteDisconnected is one too
                outcomes["reset"] += 1
                continue
            if status == 503:
                assert SLOWDOWN_XML in body
            outcomes[str(status)] += 1
        logged = Counter(record.fault for record in served.requests())
    assert outcomes["503"] == logged["slowdown"]
    assert outcomes["reset"] == logged["reset"]
    assert abs(outcomes["503"] / 200 - 0.2) < 0.08
    assert abs(outcomes["reset"] / 200 - 0.1) < 0.06
    assert outcomes["200"] == 200 - outcomes["503"] - outcomes["reset"]


def test_stac_search_pages_with_limit(served, small_archive):
    body = {"collections": ["sentinel-2-l2a"], "limit": 5}
    page = post_search(f"{served.stac_url}/search", body)
    ids, pages = [], 0
    while True:
        pages += 1
        ids += [feature["id"] for feature in page["features"]]
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        assert following[0]["href"].startswith(served.stac_url)
        page = post_search(following[0]["href"], following[0]["body"])
    assert sorted(ids) == sorted(small_archive.s2_item_ids)
    assert pages == -(-len(ids) // 5)


@pytest.mark.parametrize(
    ("collection", "datetime_range", "query", "least"),
    [
        ("sentinel-2-l2a", "2023-01-01/2023-12-31", None, 8),
        ("sentinel-2-l2a", "2023-03-01/2023-10-31", {"eo:cloud_cover": {"lt": 50}}, 2),
        ("sentinel-1-grd", "2023-02-11/2023-02-11", None, 1),
        ("cop-dem-glo-30", "2021-01-01/2021-12-31", None, 1),
    ],
)
def test_the_catalog_client_finds_what_the_local_catalogue_holds(
    served, small_archive, collection, datetime_range, query, least
):
    def found(catalog: Catalog) -> list[str]:
        items = search(catalog, collection, FOOTPRINT, datetime_range, query)
        return [item.id for item in items]

    # Pages of 7 items: the client turns them.
    api = found(Catalog(url=served.stac_url, page_size=7))
    assert api == found(Catalog(path=str(small_archive.root / "stac")))
    assert len(api) >= least


def run_command(*arguments: str) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-m", "demo_archive.served", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_command_serves_until_sigint(small_archive, tmp_path):
    config_path = tmp_path / "served.yaml"
    process = run_command(
        str(small_archive.root), "--latency-ms", "5", "--config-out", str(config_path)
    )
    try:
        deadline = time.monotonic() + 60
        while not config_path.exists() and process.poll() is None:
            assert time.monotonic() < deadline, "the command did not write its config"
            time.sleep(0.2)
        config = yaml.safe_load(config_path.read_text())
        assert set(config) == {"source", "stac_url", "source_s3_endpoint_url", "geoid"}
        assert config["source"] == "earth-search"
        assert config["geoid"].startswith(config["source_s3_endpoint_url"] + "/geoid/")
        with urllib.request.urlopen(f"{config['stac_url']}/collections", timeout=10) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert f"export AWS_ACCESS_KEY_ID={CREDENTIALS['AWS_ACCESS_KEY_ID']}" in stdout
    assert f"--configfile {config_path}" in stdout


def test_the_command_names_a_missing_archive_and_how_to_make_it(tmp_path):
    process = run_command(str(tmp_path / "nowhere"))
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert str(tmp_path / "nowhere") in stderr and "snakemake --cores 2" in stderr


def test_serve_archive_refuses_an_empty_folder(tmp_path):
    with pytest.raises(ArchiveNotFound, match="holds no demo archive"), serve_archive(tmp_path):
        pass
