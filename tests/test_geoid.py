"""The geoid's height at a tile's pixels, read from a global grid like PROJ's EGM2008 one."""

import numpy as np
import pytest
import rasterio
from affine import Affine

from loaders.errors import TileDataError
from loaders.geoid import tile_undulation
from loaders.grid import tile_grid
from loaders.tiles import Tile

#: Node spacing of the test grids, degrees.
STEP = 1.0


def node_value(lon, lat):
    """A field that differs at every node and is the same a turn further on."""
    return np.mod(np.round(np.asarray(lon) / STEP), 360) * 0.5 + np.asarray(lat) * 0.25


def write_grid(path, with_east_column: bool) -> str:
    """A global grid whose pixel centres are nodes from -180 eastward, north to south;
    PROJ's EGM2008 grid stops a step short of 180, the demo's repeats -180 at 180."""
    columns = round(360 / STEP) + (1 if with_east_column else 0)
    lon = -180 + np.arange(columns) * STEP
    lat = 90 - np.arange(round(180 / STEP) + 1) * STEP
    values = node_value(lon[None, :], lat[:, None]).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "width": values.shape[1],
        "height": values.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(STEP, 0, -180 - STEP / 2, 0, -STEP, 90 + STEP / 2),
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
    }
    with rasterio.open(path, "w", **profile) as grid:
        grid.write(values, 1)
    return str(path)


@pytest.mark.parametrize("with_east_column", [False, True])
def test_nodes_and_the_points_between_them_read_bilinear(tmp_path, with_east_column):
    url = write_grid(tmp_path / "geoid.tif", with_east_column)
    lons = np.array([-1.0, -1.5, 10.0, 10.25])
    lats = np.array([6.0, 6.0, -16.5, -16.0])
    expected = [
        node_value(-1, 6),
        (node_value(-1, 6) + node_value(-2, 6)) / 2,
        (node_value(10, -16) + node_value(10, -17)) / 2,
        node_value(10, -16) * 0.75 + node_value(11, -16) * 0.25,
    ]
    np.testing.assert_allclose(tile_undulation(url, lons, lats), expected, atol=1e-9)


@pytest.mark.parametrize("with_east_column", [False, True])
def test_a_tile_astride_180_reads_both_ends_of_the_grid(tmp_path, with_east_column):
    """The grid of a tile whose east edge is 180 degrees: its longitudes run on past 180,
    into the grid's first columns."""
    url = write_grid(tmp_path / "geoid.tif", with_east_column)
    lons, lats = tile_grid(Tile(2023, 7294, 606, 179.9722, -16.1389)).pixel_lonlat()
    assert lons.max() > 180
    found = tile_undulation(url, lons, lats)
    # Between the nodes of 179 and 180 (= -180) degrees, and 16 and 17 degrees south.
    t_lon, t_lat = lons - 179, (-16 - lats) / STEP
    west = node_value(179, -16) * (1 - t_lat) + node_value(179, -17) * t_lat
    east = node_value(180, -16) * (1 - t_lat) + node_value(180, -17) * t_lat
    np.testing.assert_allclose(found, west * (1 - t_lon) + east * t_lon, atol=1e-9)


def test_a_missing_grid_fails_the_tile_as_missing_data_naming_it(tmp_path):
    url = str(tmp_path / "no-geoid.tif")
    with pytest.raises(TileDataError, match="geoid grid") as err:
        tile_undulation(url, np.array([-1.0]), np.array([6.0]))
    assert err.value.reason == "missing_data" and url in str(err.value)
