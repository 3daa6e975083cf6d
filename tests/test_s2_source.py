"""Reading Sentinel-2 items onto a tile's grids: zones, grids, solar days, overviews, mosaics."""

import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioIOError
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform

from loaders.errors import TileDataError
from loaders.grid import Grid, utm_epsg, utm_grid
from loaders.s2_source import (
    Acquisition,
    acquisitions,
    read_asset,
    read_mosaic,
    solar_day,
)
from loaders.tiles import BBox, tile_bbox


def test_the_output_crs_is_the_utm_zone_and_hemisphere_of_the_tile_centre():
    assert utm_epsg(-1.6944, 6.6389) == 32630
    assert utm_epsg(-0.0278, 6.6389) == 32630  # the tile's east edge touches zone 31
    assert utm_epsg(0.0, 6.6) == 32631
    assert utm_epsg(6.3611, -0.0833) == 32732  # just south of the equator
    assert utm_epsg(179.99, 10) == 32660 and utm_epsg(-180, 10) == 32601


def test_tile_grids_lie_on_the_20_m_lattice_of_the_granules_and_cover_the_tile():
    bbox = tile_bbox(-1.6944, 6.6389)
    ten = utm_grid(bbox, 32630, 10, snap=20)
    assert ten.west % 20 == 0 and ten.north % 20 == 0
    assert ten.height % 2 == 0 and ten.width % 2 == 0
    # about 6.2 km on a side at 10 m
    assert 600 <= ten.height <= 640 and 600 <= ten.width <= 640
    twenty = ten.coarsened(20)
    assert (twenty.height, twenty.width) == (ten.height // 2, ten.width // 2)
    assert twenty.transform.c == ten.transform.c and twenty.transform.f == ten.transform.f
    # every corner of the lon/lat box is inside the grid
    xs, ys = warp_transform(
        "EPSG:4326", ten.crs, [bbox.west, bbox.east] * 2, [bbox.south] * 2 + [bbox.north] * 2
    )
    east, south = ten.transform @ (ten.width, ten.height)
    assert all(ten.west <= x <= east for x in xs) and all(south <= y <= ten.north for y in ys)
    mask = ten.coarsened(160)
    assert mask.height * 160 >= ten.height * 10 > (mask.height - 1) * 160


def test_solar_days_group_an_overpass_even_where_its_utc_date_changes():
    # 10:30 solar time at 179.5 E is 22:32 UTC the day before
    assert solar_day(datetime(2023, 3, 4, 22, 32, tzinfo=UTC), 179.5) == date(2023, 3, 5)
    assert solar_day(datetime(2023, 3, 5, 10, 37, tzinfo=UTC), -1.69) == date(2023, 3, 5)


def item(item_id: str, moment: datetime, footprint: BBox, assets: dict | None = None):
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [
                [footprint.west, footprint.south],
                [footprint.east, footprint.south],
                [footprint.east, footprint.north],
                [footprint.west, footprint.north],
                [footprint.west, footprint.south],
            ]
        ],
    }
    found = pystac.Item(
        item_id,
        geometry,
        [footprint.west, footprint.south, footprint.east, footprint.north],
        moment,
        {},
    )
    for key, href in (assets or {}).items():
        found.add_asset(key, pystac.Asset(href))
    return found


def test_acquisitions_are_chronological_days_with_the_best_covering_item_first():
    area = BBox(0, 0, 1, 1)
    morning = datetime(2023, 5, 1, 10, 30, tzinfo=UTC)
    found = acquisitions(
        [
            item("west-half", morning, BBox(-1, -1, 0.5, 2)),
            item("east-quarter", morning, BBox(0.75, -1, 2, 2)),
            item("next-pass", datetime(2023, 4, 26, 10, 30, tzinfo=UTC), BBox(-1, -1, 2, 2)),
        ],
        area,
        lon=0.5,
    )
    assert [day.day for day in found] == [date(2023, 4, 26), date(2023, 5, 1)]
    assert found[0].coverage == 1.0
    assert [i.id for i in found[1].items] == ["west-half", "east-quarter"]
    assert found[1].coverage == pytest.approx(0.75)


def test_coverage_counts_footprints_beyond_the_antimeridian():
    area = BBox(179.7, -17, 180.4, -16)  # most of it past 180
    moment = datetime(2023, 5, 1, 22, 30, tzinfo=UTC)
    found = acquisitions(
        [
            item("east", moment, BBox(179, -18, 180, -15)),
            item("west", moment, BBox(-180, -18, -179, -15)),
        ],
        area,
        lon=179.9,
    )
    assert found[0].coverage == pytest.approx(1.0)
    assert [i.id for i in found[0].items] == ["west", "east"]  # 0.4 degree of it against 0.3


def write_cog(path, array, crs, transform, overviews=0):
    profile = {
        "driver": "GTiff",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype,
        "crs": crs,
        "transform": transform,
        "nodata": 0,
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(array, 1)
        with memory.open() as scratch:
            rasterio.shutil.copy(
                scratch,
                path,
                driver="COG",
                blocksize=256,
                overviews="AUTO" if overviews else "NONE",
                overview_count=overviews or None,
                overview_resampling="NEAREST",
            )


def test_a_coarse_grid_is_read_from_the_matching_overview(tmp_path):
    # A 20 m "SCL" whose 640 m blocks carry their own class; the overview 32x down is read.
    blocks = (np.arange(64, dtype=np.uint8).reshape(8, 8) % 11) + 1
    scl = np.kron(blocks, np.ones((32, 32), np.uint8))
    write_cog(tmp_path / "scl.tif", scl, "EPSG:32630", from_origin(600000, 800000, 20, 20), 5)
    with rasterio.open(tmp_path / "scl.tif") as src:
        assert src.overviews(1) == [2, 4, 8, 16, 32]
    scene = item(
        "s", datetime(2023, 1, 1, tzinfo=UTC), BBox(0, 0, 1, 1), {"scl": str(tmp_path / "scl.tif")}
    )
    grid = Grid("EPSG:32630", 600000, 800000, 640, 8, 8)
    assert np.array_equal(read_asset(scene, "scl", grid), blocks)
    # The same at 20 m over a window reads the full-resolution pixels.
    fine = Grid("EPSG:32630", 600000 + 640, 800000 - 640, 20, 40, 40)
    assert np.array_equal(read_asset(scene, "scl", fine), scl[32:72, 32:72])


def test_a_granule_of_the_neighbouring_zone_is_resampled_onto_the_tiles_grid(tmp_path):
    # A field that depends on longitude only, written in zone 31, read on a zone-30 grid.
    lon_lat = (0.02, 6.6)
    (x31,), (y31,) = warp_transform("EPSG:4326", "EPSG:32631", [lon_lat[0]], [lon_lat[1]])
    west, north = round(x31) - 2000, round(y31) + 2000
    cols = np.arange(400)
    xs = west + (cols + 0.5) * 10
    lons, _ = warp_transform("EPSG:32631", "EPSG:4326", xs.tolist(), [north - 2000.0] * 400)
    field = np.tile(np.round((np.array(lons) + 1) * 1000).astype(np.uint16), (400, 1))
    write_cog(tmp_path / "b04.tif", field, "EPSG:32631", from_origin(west, north, 10, 10))
    scene = item(
        "z31",
        datetime(2023, 1, 1, tzinfo=UTC),
        BBox(-1, 6, 1, 7),
        {"red": str(tmp_path / "b04.tif")},
    )
    (x30,), (y30,) = warp_transform("EPSG:4326", "EPSG:32630", [lon_lat[0]], [lon_lat[1]])
    grid = Grid("EPSG:32630", round(x30) - 500, round(y30) + 500, 10, 100, 100)
    read = read_asset(scene, "red", grid)
    assert (read != 0).all()
    centre_lon = warp_transform("EPSG:32630", "EPSG:4326", [grid.west + 505], [grid.north - 505])[
        0
    ][0]
    assert abs(int(read[50, 50]) - (centre_lon + 1) * 1000) <= 1


def test_a_days_mosaic_fills_the_first_items_gaps_from_the_next(tmp_path):
    transform = from_origin(600000, 800000, 10, 10)
    left = np.zeros((50, 50), np.uint16)
    left[:, :30] = 7
    right = np.zeros((50, 50), np.uint16)
    right[:, 20:] = 9
    write_cog(tmp_path / "left.tif", left, "EPSG:32630", transform)
    write_cog(tmp_path / "right.tif", right, "EPSG:32630", transform)
    moment = datetime(2023, 1, 1, tzinfo=UTC)
    day = Acquisition(
        date(2023, 1, 1),
        (
            item("l", moment, BBox(0, 0, 1, 1), {"red": str(tmp_path / "left.tif")}),
            item("r", moment, BBox(0, 0, 1, 1), {"red": str(tmp_path / "right.tif")}),
        ),
        1.0,
    )
    mosaic = read_mosaic(day, "red", Grid("EPSG:32630", 600000, 800000, 10, 50, 50))
    assert (mosaic[:, :30] == 7).all() and (mosaic[:, 30:] == 9).all()


def test_an_unreadable_asset_is_a_classified_data_error(tmp_path):
    scene = item(
        "gone", datetime(2023, 1, 1, tzinfo=UTC), BBox(0, 0, 1, 1), {"red": str(tmp_path / "x.tif")}
    )
    with pytest.raises(TileDataError, match="red of gone is missing") as raised:
        read_asset(scene, "red", Grid("EPSG:32630", 600000, 800000, 10, 5, 5))
    assert raised.value.reason == "missing_data"


@pytest.fixture
def http_status(tmp_path):
    """A loopback server answering every request with the status in ``status[0]``."""
    status = [503]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            self.send_response(status[0])
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", status
    server.shutdown()


def test_a_file_that_is_not_there_is_missing_data_but_an_unavailable_one_is_retried(http_status):
    base, status = http_status
    grid = Grid("EPSG:32630", 600000, 800000, 10, 5, 5)
    scene = item(
        "far", datetime(2023, 1, 1, tzinfo=UTC), BBox(0, 0, 1, 1), {"red": f"{base}/B04.tif"}
    )
    # 503 after GDAL's own retries: not the tile's fault, so not a TileDataError (retried).
    with rasterio.Env(GDAL_HTTP_MAX_RETRY="0"), pytest.raises(RasterioIOError) as raised:
        read_asset(scene, "red", grid)
    assert not isinstance(raised.value, TileDataError)
    status[0] = 404
    scene.assets["red"].href = f"{base}/B03.tif"  # GDAL remembers what a URL answered
    with rasterio.Env(GDAL_HTTP_MAX_RETRY="0"), pytest.raises(TileDataError) as raised:
        read_asset(scene, "red", grid)
    assert raised.value.reason == "missing_data"


def test_an_item_without_the_asset_is_bad_data():
    scene = item("bare", datetime(2023, 1, 1, tzinfo=UTC), BBox(0, 0, 1, 1))
    with pytest.raises(TileDataError, match="bare has no scl asset") as raised:
        read_asset(scene, "scl", Grid("EPSG:32630", 600000, 800000, 10, 5, 5))
    assert raised.value.reason == "bad_data"
