"""A source file read over S3 fails its tile as the same file read locally does: a corrupt file
is bad data and an absent one missing data (neither retried), while a network failure stays an
error that the executor retries.

The DEM job reads real COGs with real GDAL from the local S3 server (moto on loopback), from a
closed loopback port, and from a small loopback S3 and HTTP stand-in that throttles reads; the
classifier is also tested alone on the messages GDAL gave in such reads.
"""

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from loopback import LoopbackServer
from rasterio.errors import RasterioIOError
from s3_server import CREDENTIALS
from synthetic_dem import plane, tile_shape, write_cell

from loaders.copdem import cell_id
from loaders.errors import TileDataError, remote_read_fault
from loaders.jobs import run_job
from loaders.reading import GDAL_READ_SETTINGS, gdal_path
from loaders.tiles import Tile
from snakemake_executor_plugin_lithops.outcomes import NOT_RETRIED

BUCKET = "ttc-ard-remote-reads"
TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}
#: The one Copernicus cell under TILE, and its key under a DEM root.
CELL = cell_id(6, -2)
CELL_KEY = f"{CELL}/{CELL}.tif"
#: Bytes of GDAL's first request to a remote file: the header of a small COG lies within them.
OPENING_BYTES = 16384
#: S3's answer to a client over its request rate, as AWS sends it.
SLOW_DOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>"
)


def write_cog(folder: Path) -> Path:
    """TILE's cell as a COG: a plane over the few hundred pixels around the tile (the rest of the
    cell empty, which DEFLATE packs to almost nothing), in 256-pixel tiles with overviews."""
    bbox = Tile(**TILE).bbox
    sparse = write_cell(folder / "sparse", 6, -2, plane(TILE["lon"], TILE["lat"]), bbox)
    cog = folder / "cog.tif"
    rasterio.shutil.copy(
        sparse, cog, driver="COG", compress="DEFLATE", blocksize=256, overview_count=2
    )
    return cog


def garbled_tiles(cog: Path) -> bytes:
    """The COG's bytes with each full-resolution tile overwritten by random bytes of its length:
    header and directories intact, as in a file damaged after it was written."""
    data = bytearray(cog.read_bytes())
    rng = np.random.default_rng(0)
    with rasterio.open(cog) as src:
        for (row, col), _ in src.block_windows(1):
            offset = int(src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1))
            size = int(src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1))
            data[offset : offset + size] = rng.bytes(size)
    return bytes(data)


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> dict[str, bytes]:
    """The cell's file as it should be, and two damaged copies: its tiles garbled, and cut to its
    first 64 bytes like an interrupted download (workflow_runner.truncated_copy)."""
    cog = write_cog(tmp_path_factory.mktemp("cog"))
    return {
        "intact": cog.read_bytes(),
        "garbled_tiles": garbled_tiles(cog),
        "truncated": cog.read_bytes()[:64],
    }


@pytest.fixture(scope="module")
def bucket(s3_server, cells) -> str:
    """A bucket holding each version of the cell under a DEM root of its name."""
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    for name, body in cells.items():
        client.put_object(Bucket=BUCKET, Key=f"{name}/{CELL_KEY}", Body=body)
    return BUCKET


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> dict[str, str]:
    """GDAL settings (a spec's ``gdal_env``) reaching the local S3 server; the credentials go
    through the environment, where rasterio looks for them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return {
        "AWS_S3_ENDPOINT": s3_server.endpoint_url.removeprefix("http://"),
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


def run_dem(tmp_path: Path, dem_root: str, gdal_env: dict[str, str]) -> dict:
    """The DEM job of TILE as the workflow specifies it (workflow/rules/common.smk)."""
    return run_job(
        {
            "product": "dem",
            "tile": TILE,
            "outputs": {"dem": str(tmp_path / "dem.hkl")},
            "qa": str(tmp_path / "qa.json"),
            "dem_root": dem_root,
            "gdal_env": gdal_env,
        }
    )


def test_intact_cell_over_s3_gives_the_tile(tmp_path, bucket, s3_env):
    # The server and the settings work: the failures below come from the bytes.
    summary = run_dem(tmp_path, f"s3://{bucket}/intact", s3_env)
    assert summary["shapes"] == {"dem": tile_shape(TILE)}


@pytest.mark.parametrize("damage", ["garbled_tiles", "truncated"])
def test_corrupt_cell_over_s3_is_bad_data_naming_the_url(tmp_path, bucket, s3_env, damage):
    with pytest.raises(TileDataError) as err:
        run_dem(tmp_path, f"s3://{bucket}/{damage}", s3_env)
    assert err.value.reason == "bad_data"
    assert f"s3://{bucket}/{damage}/{CELL_KEY}" in str(err.value)
    assert isinstance(err.value, NOT_RETRIED)


@pytest.mark.parametrize("damage", ["garbled_tiles", "truncated"])
def test_same_bytes_read_locally_are_bad_data(tmp_path, cells, damage):
    local = tmp_path / "cop" / CELL_KEY
    local.parent.mkdir(parents=True)
    local.write_bytes(cells[damage])
    with pytest.raises(TileDataError) as err:
        run_dem(tmp_path, str(tmp_path / "cop"), {})
    assert err.value.reason == "bad_data"
    assert str(local) in str(err.value)


def test_absent_cell_over_s3_is_missing_data(tmp_path, bucket, s3_env):
    with pytest.raises(TileDataError) as err:
        run_dem(tmp_path, f"s3://{bucket}/absent", s3_env)
    assert err.value.reason == "missing_data"
    assert f"s3://{bucket}/absent/{CELL_KEY}" in str(err.value)


def test_unreachable_s3_endpoint_is_an_error_the_executor_retries(tmp_path, s3_env):
    # Nothing listens on the discard port: the connection is refused at once.
    unreachable = s3_env | {"AWS_S3_ENDPOINT": "127.0.0.1:9", "GDAL_HTTP_MAX_RETRY": "0"}
    with pytest.raises(RasterioIOError, match="CURL error") as err:
        run_dem(tmp_path, f"s3://{BUCKET}/unreachable", unreachable)
    assert not isinstance(err.value, NOT_RETRIED)


class ThrottledServer(LoopbackServer):
    """A loopback S3 and HTTP stand-in holding one file: it answers a HEAD with the file's size,
    serves the reads that start before ``served_below`` and answers every other read with S3's
    503 SlowDown, as a throttled bucket does."""

    def __init__(self, body: bytes, served_below: int):
        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

            def do_GET(self) -> None:
                first, _, last = self.headers.get("Range", "").removeprefix("bytes=").partition("-")
                if first.isdigit() and int(first) < served_below:
                    part = body[int(first) : int(last) + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
                else:
                    part = SLOW_DOWN
                    self.send_response(503)
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part)

            def log_message(self, *args) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def throttled_server(cells, request) -> Iterator[ThrottledServer]:
    """A :class:`ThrottledServer` of the intact cell serving ``request.param`` bytes."""
    server = ThrottledServer(cells["intact"], request.param)
    yield server
    server.stop()


#: GDAL retries a throttled request once, then gives up.
ONE_RETRY = {"GDAL_HTTP_MAX_RETRY": "1", "GDAL_HTTP_RETRY_DELAY": "0.1"}


@pytest.mark.parametrize("throttled_server", [OPENING_BYTES], indirect=True)
def test_s3_slowdown_during_tile_reads_is_an_error_the_executor_retries(
    tmp_path, s3_env, throttled_server
):
    # GDAL reads the header, then the tile reads fail: libtiff says "IReadBlock failed ... Read
    # error at ...; got 0 bytes", and GDAL only warns of the 503.
    throttled = (
        s3_env
        | ONE_RETRY
        | {
            "AWS_S3_ENDPOINT": throttled_server.endpoint,
            # The stand-in answers reads of the file only, not the listing of its folder.
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        }
    )
    with pytest.raises(RasterioIOError, match="Read failed") as err:
        run_dem(tmp_path, "s3://throttled/cop", throttled)
    assert not isinstance(err.value, NOT_RETRIED)


@pytest.mark.parametrize("throttled_server", [0], indirect=True)
def test_failed_opening_read_over_http_is_an_error_the_executor_retries(tmp_path, throttled_server):
    # The HEAD succeeds and the GET fails: GDAL reads an empty file and says the bytes are in no
    # format it knows, as it says of a corrupt file. The settings are the Sentinel loaders' (the
    # Sentinel-2 COGs are https URLs).
    http_settings = GDAL_READ_SETTINGS | ONE_RETRY
    with pytest.raises(RasterioIOError, match="not recognized as being in a supported") as err:
        run_dem(tmp_path, f"http://{throttled_server.endpoint}/cop", http_settings)
    assert not isinstance(err.value, NOT_RETRIED)


#: Messages of the reads above (the error and the errors it was raised from, outermost first),
#: as GDAL 3.10 gave them, with the reason each must give.
READ_FAILURES = {
    "tiles garbled": (
        "s3://bucket/cop/c.tif",
        [
            "Read failed. See previous exception for details.",
            "c.tif, band 1: IReadBlock failed at X offset 3, Y offset 4: "
            "TIFFReadEncodedTile() failed.",
            "TIFFReadEncodedTile() failed.",
            "ZIPDecode:Decoding error at scanline 768",
        ],
        "bad_data",
    ),
    "cut to 64 bytes": (
        "https://host/cop/c.tif",
        ["c.tif: TIFFReadDirectory:Failed to read directory at offset 192"] * 2,
        "bad_data",
    ),
    "random bytes over S3": (
        "s3://bucket/cop/c.tif",
        ["'/vsis3/bucket/cop/c.tif' not recognized as being in a supported file format."] * 2,
        "bad_data",
    ),
    "opening GET failed after a HEAD over HTTP": (
        "https://host/cop/c.tif",
        ["'/vsicurl/https://host/cop/c.tif' not recognized as being in a supported file format."]
        * 2,
        None,
    ),
    "opening GET failed after a HEAD over HTTP, folder listings on": (
        "https://host/cop/c.tif",
        ["Cannot read 380841 bytes"],
        None,
    ),
    "tile reads throttled": (
        "s3://bucket/cop/c.tif",
        [
            "Read failed. See previous exception for details.",
            "c.tif, band 1: IReadBlock failed at X offset 3, Y offset 4: "
            "TIFFReadEncodedTile() failed.",
            "TIFFReadEncodedTile() failed.",
            "TIFFFillTile:Read error at row 4294967295, col 4294967295, tile 63; got 0 bytes, "
            "expected 20384",
        ],
        None,
    ),
    # A file cut in the middle of a tile reads as a failed tile read: retried, to be safe.
    "file cut in a tile": (
        "s3://bucket/cop/c.tif",
        ["TIFFFillTile:Read error at row 768, col 768, tile 64; got 47712 bytes, expected 69303"],
        None,
    ),
    "file cut in its tile index": (
        "s3://bucket/cop/c.tif",
        ["_TIFFPartialReadStripArray:Cannot read offset/size for strile around ~63"],
        None,
    ),
    "one tile garbled, another throttled": (
        "s3://bucket/cop/c.tif",
        [
            "ZIPDecode:Decoding error at scanline 768",
            "TIFFFillTile:Read error at row 768, col 768, tile 64; got 0 bytes, expected 69303",
        ],
        None,
    ),
    "connection refused": (
        "s3://bucket/cop/c.tif",
        [
            "CURL error: Failed to connect to 127.0.0.1 port 9 after 0 ms: "
            "Could not connect to server"
        ]
        * 2,
        None,
    ),
    "connection reset": (
        "s3://bucket/cop/c.tif",
        ["CURL error: Recv failure: Connection reset by peer"] * 2,
        None,
    ),
    "timeout": (
        "https://host/cop/c.tif",
        ["CURL error: Operation timed out after 1003 milliseconds with 0 bytes received"] * 2,
        None,
    ),
    "HTTP 503 on opening": ("https://host/cop/c.tif", ["HTTP response code: 503"] * 2, None),
    "S3 SlowDown on opening": (
        "s3://bucket/cop/c.tif",
        ["Please reduce your request rate."] * 2,
        None,
    ),
    "S3 503 with a page not from S3": (
        "s3://bucket/cop/c.tif",
        ["Invalid AWS response: unavailable"] * 2,
        None,
    ),
    "absent key": (
        "s3://bucket/cop/c.tif",
        ["The specified key does not exist."] * 2,
        "missing_data",
    ),
    "absent bucket": (
        "s3://bucket/cop/c.tif",
        ["The specified bucket does not exist"] * 2,
        "missing_data",
    ),
    "HTTP 404": ("https://host/cop/c.tif", ["HTTP response code: 404"] * 2, "missing_data"),
}


@pytest.mark.parametrize(
    ("href", "messages", "reason"), READ_FAILURES.values(), ids=READ_FAILURES.keys()
)
def test_remote_read_fault_from_gdal_messages(href, messages, reason):
    assert remote_read_fault(href, messages) == reason


@pytest.mark.parametrize(
    ("href", "path"),
    [
        (  # Earth Search's sentinel-cogs href: read as the object, one request to open
            "https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/30/N/XN/2023/1/"
            "S2A_30NXN_20230106_0_L2A/B04.tif",
            "/vsis3/sentinel-cogs/sentinel-s2-l2a-cogs/30/N/XN/2023/1/S2A_30NXN_20230106_0_L2A/B04.tif",
        ),
        ("https://bucket.s3.amazonaws.com/a/b.tif", "/vsis3/bucket/a/b.tif"),
        ("https://bucket.s3-eu-west-1.amazonaws.com/a.tif", "/vsis3/bucket/a.tif"),
        ("s3://sentinel-s1-l1c/GRD/x.tiff", "/vsis3/sentinel-s1-l1c/GRD/x.tiff"),
        ("https://example.org/data/b.tif", "https://example.org/data/b.tif"),
        ("https://s3.amazonaws.com/bucket/b.tif", "https://s3.amazonaws.com/bucket/b.tif"),
        ("/data/archive/b.tif", "/data/archive/b.tif"),
    ],
)
def test_gdal_reads_an_s3_object_through_its_own_s3_reader(href, path):
    assert gdal_path(href) == path
