"""Each tile job counts what its source reads cost (HTTP requests and bytes of GDAL, boto3 and
the STAC client, search pages, time spent reading), and a read the source refuses (403) ends the
call with a :class:`SourceAccessError` that is not retried.

Real GDAL reads a real COG from the local S3 server (moto), whose own log of the requests it
answered is the reference. The refusals come from a loopback stand-in answering every request
with S3's 403 AccessDenied, read through with real GDAL (/vsis3/, signed and unsigned, and
/vsicurl/), real boto3 and urllib, and from the local S3 server enforcing IAM policies.
"""

import ctypes.util
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import rasterio.shutil
from loopback import LoopbackServer
from s3_server import CREDENTIALS
from synthetic_dem import cells_for, plane, tile_shape, write_cell

from loaders import accounting
from loaders.copdem import cell_id
from loaders.errors import SourceAccessError
from loaders.jobs import run_job
from loaders.s1_source import S3Access, read_bytes
from loaders.tiles import Tile
from snakemake_executor_plugin_lithops.outcomes import NOT_RETRIED, describe_error

BUCKET = "ttc-ard-accounting"
TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}
BBOX = Tile(**TILE).bbox
#: The one Copernicus cell under TILE, and its key under a DEM root.
CELL_KEY = f"{cell_id(6, -2)}/{cell_id(6, -2)}.tif"
#: S3's answer to a read it refuses, as AWS sends it.
ACCESS_DENIED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    b"<Message>Access Denied</Message><RequestId>TTCARD</RequestId></Error>"
)


@pytest.fixture(scope="module")
def cog(tmp_path_factory) -> bytes:
    """TILE's cell as a COG (a plane around the tile), in 256-pixel tiles with overviews."""
    folder = tmp_path_factory.mktemp("cog")
    sparse = write_cell(folder / "sparse", 6, -2, plane(TILE["lon"], TILE["lat"]), BBOX)
    rasterio.shutil.copy(
        sparse, folder / "cog.tif", driver="COG", compress="DEFLATE", blocksize=256
    )
    return (folder / "cog.tif").read_bytes()


@pytest.fixture(scope="module")
def bucket(s3_server) -> str:
    s3_server.client().create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def credentials(monkeypatch) -> None:
    """The local S3 server's credentials in the environment, where GDAL and boto3 look."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def dem_spec(tmp_path: Path, dem_root: str, **settings) -> dict:
    """The DEM job of TILE as the workflow specifies it (workflow/rules/common.smk)."""
    return {
        "product": "dem",
        "tile": TILE,
        "outputs": {"dem": str(tmp_path / "dem.hkl")},
        "qa": str(tmp_path / "qa.json"),
        "dem_root": dem_root,
    } | settings


def put_cell(s3_server, bucket: str, cog: bytes, prefix: str) -> str:
    """The DEM root of a copy of the cell under ``prefix``: a test's own, as GDAL keeps what it
    read of a file for the whole process."""
    s3_server.client().put_object(Bucket=bucket, Key=f"{prefix}/{CELL_KEY}", Body=cog)
    return f"s3://{bucket}/{prefix}"


def test_the_dem_jobs_gdal_requests_are_those_the_s3_server_answered(
    tmp_path, s3_server, bucket, cog, credentials
):
    # One request per range: GDAL's counts are exact (see the next test).
    dem_root = put_cell(s3_server, bucket, cog, f"{tmp_path.name}/cop")
    before = len(s3_server.requests)
    spec = dem_spec(
        tmp_path,
        dem_root,
        source_s3_endpoint_url=s3_server.endpoint_url,
        gdal_env={"GDAL_HTTP_MULTIRANGE": "SERIAL"},
    )
    summary = run_job(spec)
    answered = s3_server.requests[before:]
    reads = summary["reads"]
    gdal = reads["by_client"]["gdal"]
    assert gdal["requests"] == len(answered) > 0
    assert gdal["bytes"] == sum(request.body_bytes for request in answered) > 0
    assert reads["by_client"]["boto3"] == reads["by_client"]["stac"] == {"requests": 0, "bytes": 0}
    assert (reads["requests"], reads["bytes"]) == (gdal["requests"], gdal["bytes"])
    assert reads["searches"] == 0
    assert 0 < reads["wait_seconds"] <= summary["seconds"]


def test_gdal_counts_a_parallel_multi_range_read_as_one_request(
    tmp_path, s3_server, bucket, cog, credentials
):
    # GDAL's default: the tiles of one window fetched at once, one ranged GET per run of
    # consecutive tiles, which GDAL's statistics log as one GET with all their bytes.
    dem_root = put_cell(s3_server, bucket, cog, f"{tmp_path.name}/cop")
    before = len(s3_server.requests)
    spec = dem_spec(tmp_path, dem_root, source_s3_endpoint_url=s3_server.endpoint_url)
    gdal = run_job(spec)["reads"]["by_client"]["gdal"]
    answered = s3_server.requests[before:]
    assert 0 < gdal["requests"] < len(answered)
    assert gdal["bytes"] == sum(request.body_bytes for request in answered)


def test_a_job_reading_local_files_makes_no_request(tmp_path):
    cells_for(tmp_path / "cop", BBOX, plane(TILE["lon"], TILE["lat"]))
    reads = run_job(dem_spec(tmp_path, str(tmp_path / "cop")))["reads"]
    assert (reads["requests"], reads["bytes"], reads["searches"]) == (0, 0, 0)
    assert reads["by_client"]["gdal"] == {"requests": 0, "bytes": 0}
    assert reads["wait_seconds"] > 0  # the local reads themselves


@pytest.fixture
def gdal_without_counters(monkeypatch) -> Iterator[None]:
    """GDAL's counters out of reach, as in a GDAL build without them: the library found is the
    C library, which has none of their functions."""
    monkeypatch.setattr(accounting, "loaded_gdal", lambda: ctypes.util.find_library("c"))
    accounting.gdal_stats_functions.cache_clear()
    yield
    accounting.gdal_stats_functions.cache_clear()


def test_without_gdals_counters_the_job_goes_on_and_says_they_are_missing(
    tmp_path, gdal_without_counters
):
    cells_for(tmp_path / "cop", BBOX, plane(TILE["lon"], TILE["lat"]))
    summary = run_job(dem_spec(tmp_path, str(tmp_path / "cop")))
    assert summary["shapes"] == {"dem": tile_shape(TILE)}
    assert summary["reads"]["by_client"]["gdal"] is None
    assert summary["reads"]["requests"] == 0


def test_s1_annotations_are_read_from_the_sources_endpoint_and_counted(
    s3_server, bucket, credentials
):
    key = "GRD/annotation/iw-vv.xml"
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=b"<product/>" * 100)
    account = accounting.start()
    access = S3Access(requester_pays=True, endpoint_url=s3_server.endpoint_url)
    assert read_bytes(f"s3://{bucket}/{key}", access) == b"<product/>" * 100
    assert account.traffic["boto3"] == accounting.Traffic(requests=1, bytes=1000)
    assert s3_server.requests[-1].path == f"/{bucket}/{key}"


def test_overlapping_reads_count_their_wall_time_once():
    account = accounting.start()

    def read(seconds: float) -> None:
        with accounting.reading():
            time.sleep(seconds)

    threads = [threading.Thread(target=read, args=(0.5,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read(0.1)
    # 0.5 s of four reads at once, then 0.1 s of one; not their sum, 2.1 s.
    assert 0.6 <= account.wait_seconds < 1.5


class DeniedServer(LoopbackServer):
    """A loopback S3 and HTTP stand-in that refuses every request with S3's 403 AccessDenied,
    logging each request's method and path."""

    def __init__(self):
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def refuse(self, body: bytes) -> None:
                requests.append((self.command, self.path))
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(ACCESS_DENIED)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.refuse(ACCESS_DENIED)

            def do_HEAD(self) -> None:
                self.refuse(b"")

            def log_message(self, *args) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def denied() -> Iterator[DeniedServer]:
    server = DeniedServer()
    yield server
    server.stop()


#: GDAL settings of a signed and of an unsigned read (the DEM bucket's).
SIGNING = {"signed": {}, "unsigned": {"AWS_NO_SIGN_REQUEST": "YES"}}


@pytest.mark.parametrize("gdal_env", SIGNING.values(), ids=SIGNING.keys())
def test_a_refused_gdal_read_over_s3_is_a_source_access_error_not_retried(
    tmp_path, denied, credentials, gdal_env
):
    # A root of the test's own: GDAL remembers for the whole process that a file was refused.
    root = f"s3://sentinel-s1-l1c/{tmp_path.name}"
    spec = dem_spec(tmp_path, root, source_s3_endpoint_url=denied.url, gdal_env=gdal_env)
    # GDAL raises S3's message; on a file it already knows to be refused, the status only.
    for says in ("Access Denied", "HTTP response code: 403"):
        with pytest.raises(SourceAccessError) as err:
            run_job(spec)
        message = str(err.value)
        assert f"the read of {root}/{CELL_KEY} was refused ({says})" in message
    assert "AWS credentials in the standard chain" in message
    assert "requester-pays" in message and "AWS_REQUEST_PAYER=requester" in message
    assert isinstance(err.value, NOT_RETRIED)
    assert "(a source refuses the reads, not retried)" in describe_error(err.value, 1)
    # GDAL asked once per job for the file (then whether it is a folder): the 403 is not among
    # the statuses it retries (GDAL_HTTP_MAX_RETRY is 5 in the loaders' settings).
    assert denied.requests.count(("GET", f"/sentinel-s1-l1c/{tmp_path.name}/{CELL_KEY}")) == 2


def test_a_refused_gdal_read_over_http_is_a_source_access_error(tmp_path, denied):
    with pytest.raises(SourceAccessError) as err:
        run_job(dem_spec(tmp_path, f"{denied.url}/cop"))
    assert "was refused (HTTP response code: 403)" in str(err.value)
    assert f"The host {denied.url.removeprefix('http://')} refuses it" in str(err.value)
    assert denied.requests == [("HEAD", f"/cop/{CELL_KEY}")]
    # The refused call is billed too: its error carries what it read, for the run log.
    assert err.value.reads["by_client"]["gdal"]["requests"] == len(denied.requests)


def test_a_refused_boto3_read_of_an_annotation_is_a_source_access_error(denied, credentials):
    url = "s3://sentinel-s1-l1c/GRD/2024/5/17/IW/DV/S1A_X/annotation/iw-vv.xml"
    account = accounting.start()
    with pytest.raises(SourceAccessError) as err:
        read_bytes(url, S3Access(requester_pays=True, endpoint_url=denied.url))
    assert (
        f"Sentinel-1 annotation iw-vv.xml: the read of {url} was refused (An error occurred "
        "(AccessDenied) when calling the GetObject operation: Access Denied)"
    ) in str(err.value)
    assert "The Sentinel-1 GRD bucket sentinel-s1-l1c is requester-pays" in str(err.value)
    # boto3 does not retry a 403 either; the refused request is counted.
    assert len(denied.requests) == 1
    assert account.traffic["boto3"] == accounting.Traffic(1, len(ACCESS_DENIED))


def test_an_annotation_refused_over_http_is_a_source_access_error(denied):
    with pytest.raises(SourceAccessError, match=r"refused \(HTTP Error 403: Forbidden\)"):
        read_bytes(f"{denied.url}/annotation/iw-vv.xml")


#: Credentials the local S3 server refuses, as an IAM policy or as credentials.
CREDENTIALS_REFUSED = {
    "not allowed to read": "AccessDenied",
    "unknown key": "InvalidAccessKeyId",
    "wrong secret": "SignatureDoesNotMatch",
}


@pytest.mark.parametrize("case", CREDENTIALS_REFUSED, ids=CREDENTIALS_REFUSED)
def test_reads_refused_by_s3_policies_or_credentials_are_source_access_errors(
    tmp_path, s3_server, bucket, cog, monkeypatch, case
):
    dem_root = put_cell(s3_server, bucket, cog, f"{tmp_path.name}/cop")
    annotation = f"{tmp_path.name}/annotation/iw-vv.xml"
    s3_server.client().put_object(Bucket=bucket, Key=annotation, Body=b"<product/>")
    user = s3_server.iam_user(
        f"lister-{tmp_path.name[-12:]}",
        [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"}],
    )
    if case == "unknown key":
        user |= {"AWS_ACCESS_KEY_ID": "AKIATTCARDUNKNOWN000"}
    elif case == "wrong secret":
        user |= {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    for name, value in user.items():
        monkeypatch.setenv(name, value)
    spec = dem_spec(tmp_path, dem_root, source_s3_endpoint_url=s3_server.endpoint_url)
    access = S3Access(endpoint_url=s3_server.endpoint_url)
    with s3_server.enforcing_policies():
        with pytest.raises(SourceAccessError, match="was refused"):
            run_job(spec)
        with pytest.raises(SourceAccessError, match=CREDENTIALS_REFUSED[case]):
            read_bytes(f"s3://{bucket}/{annotation}", access)
