"""The tile's grid: where its pixels are on the ground, how big, and which way is north."""

import numpy as np
import pytest
from pyproj import Transformer

from loaders.dem import metres_per_degree
from loaders.grid import tile_grid
from loaders.s2_source import tile_grids
from loaders.tiles import Tile

#: Tiles east and west of their zone's central meridian, north and south of the equator, and
#: one at 180 degrees.
TILES = [(-1.6944, 6.6389), (4.9, 18.0), (-1.5, -18.0), (179.9722, -16.5)]


@pytest.mark.parametrize(("lon", "lat"), TILES)
def test_the_grid_covers_the_tile_with_the_s2_bands_pixels(lon, lat):
    tile = Tile(2023, 0, 0, lon, lat)
    grid = tile_grid(tile)
    assert grid == tile_grids(tile).bands_10m
    lons, lats = grid.pixel_lonlat()
    assert lons.shape == lats.shape == (grid.height, grid.width)
    # The tile's box, projected (its edges bend a little), lies inside the grid, whose edges
    # are on the 20 m steps just outside it.
    box = tile.bbox
    edge = np.linspace(0, 1, 21)
    ring_lon = np.concatenate([box.west + edge * (box.east - box.west), np.full(21, box.east)])
    ring_lat = np.concatenate([np.full(21, box.south), box.south + edge * (box.north - box.south)])
    ring_lon = np.concatenate([ring_lon, box.east + box.west - ring_lon])
    ring_lat = np.concatenate([ring_lat, box.north + box.south - ring_lat])
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(ring_lon, ring_lat)
    east, south = grid.west + grid.width * 10, grid.north - grid.height * 10
    assert grid.west <= x.min() < grid.west + 20 and east - 20 < x.max() <= east
    assert south <= y.min() < south + 20 and grid.north - 20 < y.max() <= grid.north


@pytest.mark.parametrize(("lon", "lat"), TILES)
def test_grid_north_is_turned_from_true_north_by_the_meridian_convergence(lon, lat):
    grid = tile_grid(Tile(2023, 0, 0, lon, lat))
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    x, y = grid.west + grid.width * 5, grid.north - grid.height * 5
    (lon0, lat0), (lon1, lat1) = to_lonlat.transform(x, y), to_lonlat.transform(x, y + 1000)
    east_m, north_m = metres_per_degree(lat0)
    azimuth = np.degrees(np.arctan2((lon1 - lon0) * east_m, (lat1 - lat0) * north_m))
    assert grid.grid_north_azimuth() == pytest.approx(azimuth, abs=0.002)
    # East of the central meridian grid north leans east in the north, west in the south.
    central = (int((lon + 180) // 6) * 6) - 177
    assert np.sign(grid.grid_north_azimuth()) == np.sign((lon - central) * lat)


def test_a_pixel_is_ten_metres_of_ground_divided_by_the_projections_scale():
    on_meridian = tile_grid(Tile(2023, 0, 0, -3.0, 6.6))  # zone 30's central meridian
    near_edge = tile_grid(Tile(2023, 0, 0, 5.9, 0.5))  # 2.9 degrees east of zone 31's
    assert on_meridian.ground_pixel_size() == pytest.approx(10 / 0.9996, abs=1e-4)
    assert near_edge.ground_pixel_size() == pytest.approx(10 / 1.0009, abs=2e-4)


@pytest.mark.parametrize(("lon", "lat"), TILES)
def test_the_lon_lat_extent_from_the_outline_is_that_of_every_pixel_centre(lon, lat):
    grid = tile_grid(Tile(2023, 0, 0, lon, lat))
    for border in (0, 1):
        lons, lats = grid.pixel_lonlat(border)
        extent = grid.lonlat_extent(border)
        assert (extent.west, extent.south, extent.east, extent.north) == (
            lons.min(),
            lats.min(),
            lons.max(),
            lats.max(),
        )
