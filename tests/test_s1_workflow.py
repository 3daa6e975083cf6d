"""Sentinel-1 ARD end to end: Snakemake -> lithops executor -> Lithops localhost -> the S1
loader reading the demo archive's GRD scenes, checked against the contract and against the
gamma0 truth the archive was generated from."""

import json
import re

import hickle
import numpy as np
import pytest
from s1_truth import truth_errors_db
from workflow_runner import Workflow, archive_copy, write_request

from demo_archive import s1 as demo_s1
from loaders.copdem import cell_id
from loaders.errors import TileDataError
from loaders.grid import Grid, tile_grid
from loaders.jobs import run_job
from loaders.tiles import Tile
from ttc_ard.keys import key_patterns, record_pattern
from ttc_ard.sources import demo_source_settings

pytestmark = pytest.mark.workflow

TILES = {"1655X1083Y": (-1.6944, 6.6389), "1656X1084Y": (-1.6389, 6.6944)}
S1_DATES = [45, 45, 45, 135, 135, 135, 225, 225, 225, 315, 315, 315]


def tile_base(dest, tile, year=2023):
    x_tile, y_tile = re.fullmatch(r"(\d+)X(\d+)Y", tile).groups()
    return dest / f"{year}/raw/{x_tile}/{y_tile}/raw"


def load(dest, tile):
    base = tile_base(dest, tile)
    qa = json.loads((base / f"qa/s1_{tile}.json").read_text())
    return hickle.load(base / f"s1/{tile}.hkl"), hickle.load(base / f"misc/s1_dates_{tile}.hkl"), qa


@pytest.fixture(scope="module")
def s1_run(tmp_path_factory, demo_archive):
    workdir = tmp_path_factory.mktemp("s1_run")
    request = write_request(workdir / "request.json", {"2023": list(TILES)})
    workflow = Workflow(workdir, demo_archive, request)
    workflow.run(products="[s1]")
    return workflow


def grid_of(tile: str) -> Grid:
    x_tile, y_tile = re.fullmatch(r"(\d+)X(\d+)Y", tile).groups()
    return tile_grid(Tile(2023, int(x_tile), int(y_tile), *TILES[tile]))


def test_s1_files_follow_the_contract(s1_run):
    for tile in TILES:
        s1, dates, qa = load(s1_run.workdir / "results/ard", tile)
        grid = grid_of(tile)
        # The tile's grid, that of its S2 10 m bands.
        assert s1.dtype == np.uint16 and s1.shape == (12, grid.height, grid.width, 2)
        assert dates.dtype == np.int64 and dates.tolist() == S1_DATES
        for q in range(4):  # each quarterly composite three times
            assert np.array_equal(s1[3 * q], s1[3 * q + 1]) and np.array_equal(
                s1[3 * q], s1[3 * q + 2]
            )
        assert (s1 > 0).mean() > 0.99  # every pixel has a value after the gaps are filled
        vv_db, vh_db = (10 * np.log10(np.median(s1[..., p]) / 65535) for p in (0, 1))
        assert -15 < vv_db < -3 and vh_db < vv_db - 3  # vegetated land: VH well below VV
        assert qa["grid"] == {
            "crs": grid.crs,
            "shape": [grid.height, grid.width],
            "transform": list(grid.transform)[:6],
        }
        assert qa["nodata_fraction"] < 0.01
        for quarter in qa["quarters"]:
            # The demo's hills are gentler than the beam: little or no layover, no shadow.
            assert 0 <= quarter["layover_fraction"] < 0.01 and quarter["shadow_fraction"] == 0


def test_gamma0_recovers_the_truth_the_archive_was_made_from(s1_run, demo_archive):
    """Per quarter, 10 x 10 pixel block means of the output against the flat-terrain truth
    times the median seasonal factor of the quarter's scenes: within 0.5 dB in the median
    and 1.5 dB for 90 % of the blocks (the rest is speckle of a few 4.4-look scenes)."""
    tile, centre = next(iter(TILES.items()))
    s1, _, qa = load(s1_run.workdir / "results/ard", tile)
    errors = truth_errors_db(s1, qa, demo_archive, centre, grid_of(tile))
    for (q, p), error_db in errors.items():
        assert abs(np.median(error_db)) < 0.5, (q, p, np.median(error_db))
        assert np.mean(np.abs(error_db) < 1.5) > 0.9, (q, p)


def test_the_partial_quarter_is_one_scene_and_its_gaps_are_filled(s1_run, demo_archive):
    tile, (lon, lat) = next(iter(TILES.items()))
    s1, _, qa = load(s1_run.workdir / "results/ard", tile)
    partial, _ = demo_s1.partial_quarter(2023, demo_s1.cell_of(lon, lat))
    quarter = qa["quarters"][partial]
    assert len(quarter["scenes"]) == 1 and quarter["scenes"][0]["coverage"] < 0.95
    assert quarter["masked_fraction"] > 0.05
    others = [q for q in qa["quarters"] if q is not quarter]
    assert all(len(q["scenes"]) > 1 and q["masked_fraction"] < 0.01 for q in others)
    assert (s1[3 * partial] > 0).mean() > 0.99


def test_a_quarter_without_scenes_is_filled_from_the_nearest(tmp_path, demo_archive, s1_run):
    tile = next(iter(TILES))
    archive = archive_copy(
        tmp_path,
        demo_archive,
        "sentinel-1-grd",
        lambda item: item["properties"]["datetime"][5:7] in ("07", "08", "09"),
    )
    request = write_request(tmp_path / "request.json", {"2023": [tile]})
    Workflow(tmp_path, archive, request).run(products="[s1]")
    s1, _, qa = load(tmp_path / "results/ard", tile)
    assert qa["filled_quarters"] == [3] and qa["quarters"][2]["scenes"] == []
    assert qa["quarters"][2]["filled_from_quarter"] == 2  # Q2 and Q4 tie: the earlier
    from_neighbours = (s1[6] == s1[3]) | (s1[6] == s1[9])
    assert from_neighbours.all()


def test_a_tile_without_scenes_fails_as_no_data(tmp_path, demo_archive, s1_run):
    tile = next(iter(TILES))
    archive = archive_copy(tmp_path, demo_archive, "sentinel-1-grd", lambda item: True)
    request = write_request(tmp_path / "request.json", {"2023": [tile]})
    result = Workflow(tmp_path, archive, request).run(check=False, products="[dem, s1]")
    assert result.returncode != 0
    base = tile_base(tmp_path / "results/ard", tile)
    assert (base / f"misc/dem_{tile}.hkl").exists() and not (base / f"s1/{tile}.hkl").exists()
    (folder,) = [p for p in (tmp_path / "results/job_reports").iterdir() if p.name != "run_logs"]
    assert f"s1 {tile}: failed (no_data), 1 attempt(s)" in (folder / "report.txt").read_text()


def test_a_tile_whose_dem_is_missing_fails_as_missing_data_naming_the_cell(
    tmp_path, demo_archive, s1_run
):
    """Without its DEM a tile cannot be placed in the images: no flat-earth fallback."""
    tile, (lon, lat) = next(iter(TILES.items()))
    x_tile, y_tile = (int(n) for n in re.fullmatch(r"(\d+)X(\d+)Y", tile).groups())
    keys = {"year": 2023, "x_tile": x_tile, "y_tile": y_tile}
    spec = {
        "product": "s1",
        "tile": keys | {"lon": lon, "lat": lat},
        "outputs": {
            name: str(tmp_path / "ard" / pattern.format(**keys))
            for name, pattern in key_patterns("s1").items()
        },
        "qa": str(tmp_path / "ard" / record_pattern("s1").format(**keys)),
    } | demo_source_settings("s1", str(demo_archive))
    spec["dem_root"] = str(tmp_path / "no-dem")
    with pytest.raises(TileDataError) as err:
        run_job(spec)
    assert err.value.reason == "missing_data"
    assert cell_id(6, -2) in str(err.value)
    assert not (tmp_path / "ard").exists()
