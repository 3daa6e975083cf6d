"""The demo archive's DEM part: terrain that behaves like terrain, and cells shaped like GLO-30."""

import hashlib
import json

import numpy as np
import pytest
import rasterio
from scipy import ndimage
from workflow_runner import REPO

from loaders.copdem import cell_id, cell_transform
from loaders.dem import metres_per_degree, slope_degrees
from loaders.demo.dem import write_dem_cell
from loaders.demo.terrain import LAKE_LEVEL, elevation

REFERENCE_ITEM = json.loads(
    (REPO.parent / "shared/reference/stac-items/cop-dem-glo-30-item.json").read_text()
)
ARCSEC = 1 / 3600


def grid(west: float, north: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A row of longitudes and a column of latitudes, 1 arc-second apart."""
    return west + np.arange(size)[None, :] * ARCSEC, north - np.arange(size)[:, None] * ARCSEC


def terrain_slope(west: float, north: float, size: int) -> np.ndarray:
    lon_m, lat_m = metres_per_degree(north)
    z = elevation(*grid(west, north, size)).astype(np.float64)
    return slope_degrees(z, dx_m=ARCSEC * lon_m, dy_m=ARCSEC * lat_m)


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """One full demo cell (N06 W002, where the demo tiles are), written once."""
    folder = tmp_path_factory.mktemp("cell")
    tif, item = folder / "cell.tif", folder / "item.json"
    write_dem_cell(6, -2, tif, item)
    return tif, item


def test_terrain_is_continuous_across_degree_lines():
    # Steps between neighbours across lat 7 and lon -1 are no larger than within the cells.
    lons, lats = grid(-1.02, 7.02, 144)  # spans both lines
    z = elevation(lons, lats).astype(np.float64)
    row_steps, col_steps = np.abs(np.diff(z, axis=0)), np.abs(np.diff(z, axis=1))
    across_lat = row_steps[np.abs(lats[:-1, 0] - 7 - ARCSEC / 2) < ARCSEC]
    across_lon = col_steps[:, np.abs(lons[0, :-1] + 1 + ARCSEC / 2) < ARCSEC]
    assert across_lat.size and across_lon.size
    assert across_lat.max() <= row_steps.max() and across_lon.max() <= col_steps.max()


def test_terrain_is_bit_identical_between_calls():
    lons, lats = grid(-1.7, 6.7, 200)
    assert elevation(lons, lats).tobytes() == elevation(lons.copy(), lats.copy()).tobytes()


def test_grid_and_scattered_points_give_the_same_bits():
    # Grids take a faster path; any set of points must agree with it exactly.
    lons, lats = grid(-1.3, 6.9, 120)
    points_lon, points_lat = np.broadcast_arrays(lons, lats)
    scattered = elevation(points_lon.copy(), points_lat.copy())
    assert scattered.tobytes() == elevation(lons, lats).tobytes()
    assert (
        elevation(points_lon[5:9, 7], points_lat[5:9, 7]).tobytes() == scattered[5:9, 7].tobytes()
    )


def test_terrain_has_plains_hills_and_flat_lakes():
    # A 0.3 degree window of the demo cell: every kind of ground appears.
    z = elevation(*grid(-2.0, 7.0, 1080))
    slope = terrain_slope(-2.0, 7.0, 1080)
    assert (slope < 1).mean() > 0.2, "too little flat ground"
    assert (slope > 10).mean() > 0.01, "too little steep ground"
    lakes, count = ndimage.label(z == LAKE_LEVEL)
    sizes = np.bincount(lakes.ravel())[1:]
    assert count >= 1 and sizes.max() > 2000, "no lake of a few hectares"
    assert z.min() > 0 and z.max() < 2000


def test_cell_is_a_glo30_shaped_cog(cell):
    tif, _ = cell
    with rasterio.open(tif) as src:
        assert (src.width, src.height, src.count) == (3600, 3600, 1)
        assert src.dtypes == ("float32",) and src.crs.to_epsg() == 4326
        assert src.transform.almost_equals(cell_transform(6, -2))
        assert src.profile["tiled"] and src.compression.name == "deflate"
        assert src.overviews(1), "no overviews"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        window = src.read(1, window=((0, 512), (0, 512)))
    np.testing.assert_array_equal(window, elevation(*grid(-2.0, 7.0, 512)))


def test_cell_files_are_byte_identical_when_made_again(cell, tmp_path):
    tif, item = cell
    write_dem_cell(6, -2, tmp_path / tif.name, tmp_path / item.name)
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / tif.name) == digest(tif)
    assert (tmp_path / item.name).read_text() == item.read_text()


def test_item_has_the_earth_search_shape_and_agrees_with_the_cog(cell):
    tif, item_path = cell
    item = json.loads(item_path.read_text())
    assert item["id"] == cell_id(6, -2) and item["collection"] == "cop-dem-glo-30"
    assert set(item) == set(REFERENCE_ITEM)
    assert set(item["assets"]["data"]) == set(REFERENCE_ITEM["assets"]["data"])
    assert item["properties"]["grid:code"] == "CDEM-N06W002"
    with rasterio.open(item_path.parent / item["assets"]["data"]["href"]) as src:
        assert item["properties"]["proj:shape"] == [src.height, src.width]
        assert item["properties"]["proj:transform"] == pytest.approx(list(src.transform)[:6])
        assert item["bbox"] == pytest.approx(list(src.bounds))
