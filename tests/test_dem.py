"""DEM loader: slope on analytic surfaces, mosaics across cell edges, and its data errors."""

import json
import math
from pathlib import Path

import hickle
import numpy as np
import pytest
from synthetic_dem import PLANE_SLOPE, PLANE_SLOPE_ATOL, cells_for, dem_spec, plane, write_cell

from loaders import dem
from loaders.ard_io import file_digest
from loaders.copdem import cell_columns, cell_id
from loaders.dem_source import read_elevation_bands, tile_cells
from loaders.errors import TileDataError
from loaders.grid import tile_grid
from loaders.jobs import run_job
from loaders.s2_source import tile_grids
from loaders.tiles import BBox, Tile, tile_bbox

TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}


def slope_from_cells(lon, lat, cell_url):
    """The pure core's slope on the grid of the tile centred on ``lon``, ``lat`` from the cells
    ``cell_url`` finds, as the DEM job computes it."""
    grid = tile_grid(Tile(2023, 0, 0, lon, lat))
    lons, lats = grid.pixel_lonlat(border=1)
    bands = read_elevation_bands(dem.points_extent(lons, lats), cell_url)
    size = grid.ground_pixel_size()
    return dem.slope_degrees(dem.elevation_at(bands, lons, lats), size, size)


def test_plane_of_known_gradient_gives_exact_slope():
    rows, cols = np.mgrid[0:12, 0:9].astype(np.float64)
    elevation = 0.3 * cols * 10.0 + 0.4 * rows * 20.0  # dz/dx = 0.3, dz/dy = 0.4
    slope = dem.slope_degrees(elevation, dx_m=10.0, dy_m=20.0)
    assert slope.dtype == np.float32
    np.testing.assert_allclose(slope, math.degrees(math.atan(0.5)), rtol=1e-6)


def test_flat_ground_is_raised_to_the_floor():
    slope = dem.slope_degrees(np.full((7, 7), 123.0), dx_m=10.0, dy_m=10.0)
    assert (slope == np.float32(dem.SLOPE_FLOOR_DEG)).all()


def test_border_is_cropped_and_only_interior_neighbours_count():
    elevation = np.zeros((6, 8))
    elevation[0, :] = 1000.0  # a cliff in the top border row only
    slope = dem.slope_degrees(elevation, dx_m=10.0, dy_m=10.0)
    assert slope.shape == (4, 6)
    # The first output row sees the cliff through its northern neighbour, the others do not.
    assert (slope[0] > 80).all()
    assert (slope[1:] == np.float32(dem.SLOPE_FLOOR_DEG)).all()


def test_elevations_at_scattered_points_are_bilinear_in_the_source_rows():
    # Two bands of 3 rows, as a mosaic across the 50 degree line has them: 4 and 2 columns.
    north = dem.ElevationBand(np.arange(12, dtype=np.float32).reshape(3, 4), 50.001, 10.0, 1 / 3600)
    south = dem.ElevationBand(
        100 + np.arange(6, dtype=np.float32).reshape(3, 2), 50.001 - 3 / 3600, 10.0, 2 / 3600
    )
    step = 1 / 3600
    lons = np.array([10.0, 10.0 + 1.5 * step, 10.0 + 0.5 * step, 10.0 + step])
    lats = np.array([50.001, 50.001 - 0.5 * step, 50.001 - 2.25 * step, 50.001 - 4 * step])
    got = dem.elevation_at([north, south], lons, lats)
    want = [
        0.0,  # a source pixel's own value
        (1.5 + 5.5) / 2,  # halfway between rows 0 and 1, each at column 1.5
        0.75 * 8.5 + 0.25 * 100.25,  # between the bands: row 2 at column 0.5, row 3 at 0.25
        102.5,  # row 4 of the mosaic, the southern band's row 1 at its column 0.5
    ]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        dem.elevation_at([north, south], np.array([9.99]), np.array([50.0]))


def test_the_windows_a_tile_needs_are_decided_without_reading():
    # East edge on the -1 meridian: one row of cells, two cells side by side.
    (band,) = dem.source_windows(tile_bbox(-1.0278, 6.6389))
    assert [(w.lat_floor, w.lon_floor) for w in band.windows] == [(6, -2), (6, -1)]
    west, east = band.windows
    assert west.col_stop == 3600 and east.col_start == 0  # they meet at the cells' edge
    assert (west.row_start, west.row_stop) == (east.row_start, east.row_stop)
    assert band.lon_step == 1 / 3600 and band.first_lat == 7 - west.row_start / 3600


def test_slope_on_tile_from_one_cell_matches_the_plane(tmp_path):
    cell_url = cells_for(tmp_path, tile_bbox(-1.6944, 6.6389), plane(-1.6944, 6.6389))
    slope = slope_from_cells(-1.6944, 6.6389, cell_url)
    grid = tile_grid(Tile(2023, 1655, 1083, -1.6944, 6.6389))
    assert slope.shape == (grid.height, grid.width) == (618, 618)
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=PLANE_SLOPE_ATOL)


def test_slope_takes_the_true_pixel_size_near_a_zone_edge(tmp_path):
    # 3.3 degrees east of zone 31's central meridian UTM stretches distances by 0.1 %: a 10 m
    # pixel there is 9.99 m of ground, which a 45 degree slope shows as 0.03 degrees.
    lon, lat = 6.3, 0.5
    steep = lambda lons, lats: 500 + (lons - lon) * dem.metres_per_degree(lat)[0]  # noqa: E731
    cell_url = cells_for(tmp_path, tile_bbox(lon, lat), steep)
    slope = slope_from_cells(lon, lat, cell_url)
    assert np.median(slope) == pytest.approx(45.0, abs=0.005)


@pytest.mark.parametrize(
    ("lon", "lat", "cells"),
    [
        (-1.0278, 6.6389, 2),  # east edge on the -1 degree meridian
        (-1.6944, 7.0278, 2),  # south edge on the 7 degree parallel
        (-0.9722, 6.9722, 4),  # north-west corner on (-1, 7): four cells
    ],
)
def test_mosaic_across_degree_lines_has_no_seam(tmp_path, lon, lat, cells):
    bbox = tile_bbox(lon, lat)
    assert len(dem.source_cells(bbox)) == cells
    cell_url = cells_for(tmp_path, bbox, plane(lon, lat))
    slope = slope_from_cells(lon, lat, cell_url)
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=PLANE_SLOPE_ATOL)


def test_mosaic_across_the_50_degree_change_of_column_spacing(tmp_path):
    # North of 50N cells have 2400 columns, south of it 3600: rows of both must join exactly.
    bbox = tile_bbox(10.0278, 50.0278)
    assert {cell_columns(lat) for lat, _ in dem.source_cells(bbox)} == {2400, 3600}
    cell_url = cells_for(tmp_path, bbox, plane(10.0278, 50.0278))
    slope = slope_from_cells(10.0278, 50.0278, cell_url)
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=PLANE_SLOPE_ATOL)


def test_a_tile_on_the_antimeridian_reads_the_cells_on_both_sides_of_it(tmp_path):
    lon, lat = 180 - 1 / 36, -16.5  # its east edge on 180 degrees, as tiles of Fiji
    grid = tile_grid(Tile(2023, 0, 0, lon, lat))
    lons, _ = grid.pixel_lonlat(border=1)
    assert 180 < lons.max() < 180.01, "the grid reaches a little past 180 degrees, in one piece"
    # The plane runs on across 180 degrees, where the cells' longitudes jump to -180.
    surface = plane(lon, lat)
    elevation = lambda lons, lats: surface(np.where(lons < 0, lons + 360, lons), lats)  # noqa: E731
    bbox = tile_bbox(lon, lat)
    write_cell(tmp_path, -17, 179, elevation, bbox)
    write_cell(tmp_path, -17, -180, elevation, BBox(-180.03, bbox.south, -179.97, bbox.north))
    slope = slope_from_cells(lon, lat, lambda name: str(tmp_path / name / f"{name}.tif"))
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=PLANE_SLOPE_ATOL)


@pytest.mark.parametrize(
    ("lon", "lat"), [(-1.6944, 6.6389), (-1.0278, 6.6389), (180 - 1 / 36, -16.1389)]
)
def test_the_cells_a_tile_needs_are_those_its_jobs_open(lon, lat):
    """What the workflow generates for a demo tile: every cell a window is read from (on a
    degree line, and past 180 degrees from the W180 cells)."""
    grid = tile_grid(Tile(2023, 0, 0, lon, lat))
    opened = {
        cell_id(window.lat_floor, window.lon_floor)
        for band in dem.source_windows(dem.points_extent(*grid.pixel_lonlat(border=1)))
        for window in band.windows
    }
    assert set(tile_cells(grid)) == opened


def test_missing_cell_is_a_tile_data_error_naming_the_cell(tmp_path):
    bbox = tile_bbox(-1.0278, 6.6389)
    cells_for(tmp_path, bbox, plane(-1.0, 6.6))
    (tmp_path / cell_id(6, -1) / f"{cell_id(6, -1)}.tif").unlink()
    with pytest.raises(TileDataError, match=cell_id(6, -1)) as err:
        read_elevation_bands(bbox, lambda name: str(tmp_path / name / f"{name}.tif"))
    assert err.value.reason == "missing_data"


def test_corrupt_cell_is_bad_data(tmp_path):
    bbox = tile_bbox(-1.6944, 6.6389)
    cell_url = cells_for(tmp_path, bbox, plane(-1.6944, 6.6389))
    (tmp_path / cell_id(6, -2) / f"{cell_id(6, -2)}.tif").write_bytes(b"II*\0" + bytes(64))
    with pytest.raises(TileDataError, match="is corrupt") as err:
        read_elevation_bands(bbox, cell_url)
    assert err.value.reason == "bad_data"


def test_non_finite_elevation_is_a_tile_data_error_and_writes_nothing(tmp_path):
    flat_with_hole = lambda lon, lat: np.where((lon > -1.70) & (lat > 6.64), np.nan, 200.0)  # noqa: E731
    cells_for(tmp_path / "cop", tile_bbox(TILE["lon"], TILE["lat"]), flat_with_hole)
    with pytest.raises(TileDataError, match="non-finite elevations") as err:
        run_job(dem_spec(tmp_path, tmp_path / "cop"))
    assert err.value.reason == "bad_data"
    assert not (tmp_path / "ard").exists()


def test_the_job_writes_the_contract_file_and_its_qa_record_atomically(tmp_path):
    cells_for(tmp_path / "cop", tile_bbox(TILE["lon"], TILE["lat"]), plane(-1.6944, 6.6389))
    spec = dem_spec(tmp_path, tmp_path / "cop")
    out, qa_path = Path(spec["outputs"]["dem"]), Path(spec["qa"])
    summary = run_job(spec)
    slope = hickle.load(out)
    grid = tile_grid(Tile(**TILE))
    assert slope.dtype == np.float32 and slope.shape == (grid.height, grid.width)
    assert np.isfinite(slope).all()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left behind
    qa = json.loads(qa_path.read_text())
    # The record vouches for the file; the run log keeps its summary.
    assert qa.pop("files") == {"dem": file_digest(str(out))}
    assert summary["shapes"] == {"dem": [grid.height, grid.width]}
    assert summary["qa"] == {key: qa[key] for key in ("product", "tile", "typical", "constant")}
    # The tile's grid: that of its S2 10 m bands, whether or not any scene covers it.
    assert qa["grid"] == {
        "crs": tile_grids(Tile(**TILE)).bands_10m.crs,
        "shape": [grid.height, grid.width],
        "transform": list(tile_grids(Tile(**TILE)).bands_10m.transform)[:6],
    }
    assert qa["slope_deg"]["median"] == pytest.approx(PLANE_SLOPE, abs=PLANE_SLOPE_ATOL)
    assert (
        qa["typical"] == pytest.approx(PLANE_SLOPE, abs=PLANE_SLOPE_ATOL)
        and qa["constant"] is False
    )
    assert qa["elevation_m"]["min"] < 500 < qa["elevation_m"]["max"]  # the plane's centre value
