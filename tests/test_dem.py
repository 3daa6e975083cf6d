"""DEM loader: slope on analytic surfaces, mosaics across cell edges, and its data errors."""

import json
import math
from pathlib import Path

import hickle
import numpy as np
import pytest
from synthetic_dem import PLANE_SLOPE, cells_for, dem_spec, plane

from loaders import dem
from loaders.ard_io import file_digest
from loaders.copdem import cell_columns, cell_id
from loaders.dem_source import read_elevation_bands
from loaders.errors import TileDataError
from loaders.jobs import run_job
from loaders.tiles import tile_bbox

TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}


def slope_from_cells(bbox, cell_url):
    """The pure core's slope over ``bbox`` from the cells ``cell_url`` finds."""
    return dem.slope_on_tile(
        dem.elevation_on_tile(read_elevation_bands(bbox, cell_url), bbox), bbox
    )


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


def test_tile_grid_is_600_by_600_at_a_third_of_an_arc_second():
    bbox = tile_bbox(-1.6944, 6.6389)
    assert dem.output_shape(bbox) == (600, 600)
    lats, lons = dem.grid_centres(bbox)
    assert lats[0] == pytest.approx(bbox.north - dem.OUTPUT_RES_DEG / 2)
    assert lons[-1] == pytest.approx(bbox.east - dem.OUTPUT_RES_DEG / 2)


def test_the_windows_a_tile_needs_are_decided_without_reading():
    # East edge on the -1 meridian: one row of cells, two cells side by side.
    (band,) = dem.source_windows(tile_bbox(-1.0278, 6.6389))
    assert [(w.lat_floor, w.lon_floor) for w in band.windows] == [(6, -2), (6, -1)]
    west, east = band.windows
    assert west.col_stop == 3600 and east.col_start == 0  # they meet at the cells' edge
    assert (west.row_start, west.row_stop) == (east.row_start, east.row_stop)
    assert band.lon_step == 1 / 3600 and band.first_lat == 7 - west.row_start / 3600


def test_slope_on_tile_from_one_cell_matches_the_plane(tmp_path):
    bbox = tile_bbox(-1.6944, 6.6389)
    cell_url = cells_for(tmp_path, bbox, plane(-1.6944, 6.6389))
    bands = read_elevation_bands(bbox, cell_url)
    assert len(bands) == 1
    slope = dem.slope_on_tile(dem.elevation_on_tile(bands, bbox), bbox)
    assert slope.shape == (600, 600)
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=1e-3)


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
    slope = slope_from_cells(bbox, cell_url)
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=1e-3)


def test_mosaic_across_the_50_degree_change_of_column_spacing(tmp_path):
    # North of 50N cells have 2400 columns, south of it 3600: rows of both must join exactly.
    bbox = tile_bbox(10.0278, 50.0278)
    assert {cell_columns(lat) for lat, _ in dem.source_cells(bbox)} == {2400, 3600}
    cell_url = cells_for(tmp_path, bbox, plane(10.0278, 50.0278))
    slope = slope_from_cells(bbox, cell_url)
    np.testing.assert_allclose(slope, PLANE_SLOPE, atol=1e-3)


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
    assert slope.dtype == np.float32 and slope.shape == (600, 600)
    assert np.isfinite(slope).all()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left behind
    qa = json.loads(qa_path.read_text())
    # The record vouches for the file; the run log keeps its summary.
    assert qa.pop("files") == {"dem": file_digest(str(out))}
    assert summary["shapes"] == {"dem": [600, 600]}
    assert summary["qa"] == {key: qa[key] for key in ("product", "tile", "typical", "constant")}
    assert qa["grid"]["shape"] == [600, 600] and qa["grid"]["crs"] == "EPSG:4326"
    assert qa["grid"]["transform"][2] == pytest.approx(TILE["lon"] - 1 / 36)
    assert qa["slope_deg"]["median"] == pytest.approx(PLANE_SLOPE, abs=1e-3)
    assert qa["typical"] == pytest.approx(PLANE_SLOPE, abs=1e-3) and qa["constant"] is False
    assert qa["elevation_m"]["min"] < 500 < qa["elevation_m"]["max"]  # the plane's centre value
