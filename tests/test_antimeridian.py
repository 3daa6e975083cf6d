"""A tile whose east edge is the antimeridian (Fiji), end to end: its grid (UTM zone 60)
reaches past 180 degrees, so the DEM is read from the cells on both sides, the Sentinel-1
annotations' longitudes jump from 180 to -180 and the scene footprints are split there, and
the Sentinel-2 granules come from both sides."""

import json

import hickle
import numpy as np
import pytest
from s1_truth import truth_errors_db
from workflow_runner import Workflow, write_request

from demo_archive.terrain import elevation
from loaders import dem
from loaders.grid import tile_grid
from loaders.tiles import Tile

pytestmark = pytest.mark.workflow

TILE = Tile(2023, 7294, 606, 179.9722, -16.1389)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, demo_archive):
    """The tile's ARD folder after a run of all three products."""
    workdir = tmp_path_factory.mktemp("antimeridian")
    request = write_request(workdir / "request.json", {"2023": [TILE.tag]})
    Workflow(workdir, demo_archive, request).run(products="[dem, s1, s2]")
    return workdir / f"results/ard/2023/raw/{TILE.x_tile}/{TILE.y_tile}/raw"


def qa(outputs, product):
    return json.loads((outputs / f"qa/{product}_{TILE.tag}.json").read_text())


def test_the_three_products_share_the_tile_grid_past_180(outputs):
    grid = tile_grid(TILE)
    assert grid.crs == "EPSG:32760" and grid.lonlat_extent().east > 180
    expected = {
        "crs": grid.crs,
        "shape": [grid.height, grid.width],
        "transform": list(grid.transform)[:6],
    }
    assert [qa(outputs, p)["grid"] for p in ("dem", "s1", "s2")] == [expected] * 3


def test_the_slope_past_180_continues_the_terrain(outputs):
    """The slope against that of the generator's own terrain at the grid's pixel centres:
    the columns past 180 (read from the W180 cells) as close as the rest. A seam between the
    cells would show as a ridge of slope there."""
    grid = tile_grid(TILE)
    lons, lats = grid.pixel_lonlat(border=1)
    size_m = grid.ground_pixel_size()
    expected = dem.slope_degrees(elevation(lons, lats), size_m, size_m)
    error = np.abs(hickle.load(outputs / f"misc/dem_{TILE.tag}.hkl") - expected)
    past_180 = lons[1:-1, 1:-1] > 180
    assert past_180.any(axis=0).sum() >= 5  # whole columns of pixels lie past 180
    assert error[past_180].max() < 0.05 and error[~past_180].max() < 0.05


def test_s1_has_no_holes_and_recovers_its_truth(outputs, demo_archive):
    s1 = hickle.load(outputs / f"s1/{TILE.tag}.hkl")
    record = qa(outputs, "s1")
    assert (s1 == 0).mean() < 0.02 and record["nodata_fraction"] < 0.02
    # Split footprints cover the pixels past 180 too: whole scenes count as whole.
    coverages = [scene["coverage"] for q in record["quarters"] for scene in q["scenes"]]
    assert max(coverages) == 1.0
    errors = truth_errors_db(s1, record, demo_archive, (TILE.lon, TILE.lat), tile_grid(TILE))
    for (q, p), error_db in errors.items():
        assert abs(np.median(error_db)) < 0.5, (q, p, np.median(error_db))
        assert np.mean(np.abs(error_db) < 1.5) > 0.9, (q, p)


def test_s2_has_clean_days_from_both_sides_over_the_whole_tile(outputs):
    record = qa(outputs, "s2")
    assert record["clean_days"] > 0 and record["nodata_fraction"] < 0.01
    # Granules of its zone and of zone 1 beyond 180 degrees (S2B_60LZH_..., S2B_1LAC_...).
    zones = {item.split("_")[1][:-3] for day in record["tile_scenes"] for item in day["items"]}
    assert zones == {"1", "60"}
    s2 = hickle.load(outputs / f"s2_10/{TILE.tag}.hkl")
    assert (s2 > 0).all(axis=(0, 3)).mean() > 0.99  # every pixel has reflectance
