"""Sentinel-2 ARD end to end: Snakemake -> lithops executor -> Lithops localhost -> the S2
loader reading the demo archive, checked against the contract and against the archive itself."""

import json
import re

import hickle
import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import from_bounds
from workflow_runner import Workflow, archive_copy, write_request

from loaders.s2 import CLOUDY_SCL_CLASSES
from loaders.tiles import tile_bbox

pytestmark = pytest.mark.workflow

TILES = {"1655X1083Y": (-1.6944, 6.6389), "1656X1084Y": (-1.6389, 6.6944)}
#: Straddles 54 E, the line between UTM zones 39 and 40.
ZONE_EDGE = ("5052X1118Y", (54.0169, 12.3056))
S2_FILES = {
    "s2_10": "s2_10/{t}.hkl",
    "s2_20": "s2_20/{t}.hkl",
    "s2_dates": "misc/s2_dates_{t}.hkl",
    "clouds": "clouds/clouds_{t}.hkl",
    "cloudmask": "clouds/cloudmask_{t}.hkl",
    "clean_steps": "clouds/clean_steps_{t}.hkl",
}


def tile_base(dest, tile, year=2023):
    x_tile, y_tile = re.fullmatch(r"(\d+)X(\d+)Y", tile).groups()
    return dest / f"{year}/raw/{x_tile}/{y_tile}/raw"


def load_outputs(dest, tile) -> dict:
    base = tile_base(dest, tile)
    return {name: hickle.load(base / key.format(t=tile)) for name, key in S2_FILES.items()}


def load_qa(dest, tile, product="s2") -> dict:
    return json.loads((tile_base(dest, tile) / f"qa/{product}_{tile}.json").read_text())


@pytest.fixture(scope="module")
def s2_run(tmp_path_factory, demo_archive):
    workdir = tmp_path_factory.mktemp("s2_run")
    request = write_request(workdir / "request.json", {"2023": list(TILES)})
    workflow = Workflow(workdir, demo_archive, request)
    result = workflow.run(products="[s2]")
    return workflow, result


def test_every_s2_file_follows_the_contract(s2_run):
    workflow, _ = s2_run
    for tile in TILES:
        out = load_outputs(workflow.workdir / "results/ard", tile)
        scenes, height, width, bands = out["s2_10"].shape
        assert out["s2_10"].dtype == np.uint16 and bands == 4
        assert 600 <= height <= 640 and 600 <= width <= 640
        assert out["s2_20"].dtype == np.uint16
        assert out["s2_20"].shape == (scenes, height // 2, width // 2, 6)
        assert 1 <= scenes <= 24
        dates = out["s2_dates"]
        assert dates.dtype == np.int64 and dates.shape == (scenes,)
        assert (np.diff(dates) > 0).all() and dates[0] >= 1 and dates[-1] <= 365
        clouds = out["clouds"]
        assert clouds.dtype == np.float32 and clouds.ndim == 3 and len(clouds) >= scenes
        assert set(np.unique(clouds[np.isfinite(clouds)])) <= {0.0}  # the legacy NaN quirk
        assert out["cloudmask"].dtype == np.uint8 and len(out["cloudmask"]) == scenes
        assert set(np.unique(out["cloudmask"])) <= {0, 1}
        steps = out["clean_steps"]
        assert steps.dtype == np.int64 and (np.diff(steps) > 0).all()
        assert scenes <= len(steps) <= 24


def test_reflectance_is_harmonised_and_plausible(s2_run):
    workflow, _ = s2_run
    for tile in TILES:
        out = load_outputs(workflow.workdir / "results/ard", tile)
        reflectance = out["s2_10"].astype(np.float32) / 65535
        blue, red, nir = (np.median(reflectance[..., b]) for b in (0, 2, 3))
        # 2023 DNs carry the +1000 offset: left in, even the darkest band would sit above 0.1.
        assert 0.005 < blue < 0.1
        assert red < nir and 0.1 < nir < 0.6  # vegetated land
        qa = load_qa(workflow.workdir / "results/ard", tile)
        assert {decision["offset_dn"] for decision in qa["offsets"]} == {1000}
        assert qa["grid"]["crs"] == "EPSG:32630"


def test_kept_scenes_are_clear_over_the_tile_in_the_archive_itself(s2_run, demo_archive):
    """Read each kept scene's SCL at 20 m straight from the archive, not through the loader."""
    workflow, _ = s2_run
    tile, (lon, lat) = next(iter(TILES.items()))
    qa = load_qa(workflow.workdir / "results/ard", tile)
    kept = [scene for scene in qa["tile_scenes"] if scene["kept"]]
    assert len(kept) == len(load_outputs(workflow.workdir / "results/ard", tile)["s2_dates"])
    bbox = tile_bbox(lon, lat)
    cloudy_lut = np.zeros(256, bool)
    cloudy_lut[list(CLOUDY_SCL_CLASSES)] = True
    for scene in kept:
        item_path = demo_archive / "stac/sentinel-2-l2a" / f"{scene['items'][0]}.json"
        item = json.loads(item_path.read_text())
        scl_path = (item_path.parent / item["assets"]["scl"]["href"]).resolve()
        with rasterio.open(scl_path) as scl:
            bounds = transform_bounds("EPSG:4326", scl.crs, *bbox.__dict__.values())
            window = from_bounds(*bounds, transform=scl.transform).round_offsets().round_lengths()
            classes = scl.read(1, window=window)
        cloudy = cloudy_lut[classes].mean()
        # 160 m blocks against 20 m pixels: a little slack at the block edges
        assert cloudy <= 0.25, f"{scene['date']}: {cloudy:.0%} cloudy in the archive"


def test_a_second_run_has_nothing_to_do(s2_run):
    workflow, _ = s2_run
    again = workflow.run(products="[s2]")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_tile_across_a_utm_zone_line_gets_one_crs(tmp_path, demo_archive):
    tile, (lon, _) = ZONE_EDGE
    assert lon - 1 / 36 < 54 < lon + 1 / 36
    request = write_request(tmp_path / "request.json", {"2023": [tile]})
    Workflow(tmp_path, demo_archive, request).run(products="[dem, s2]")
    qa = load_qa(tmp_path / "results/ard", tile)
    assert qa["grid"]["crs"] == "EPSG:32640"  # the zone of the centre
    assert load_qa(tmp_path / "results/ard", tile, "dem")["grid"] == qa["grid"]
    read = {item for scene in qa["tile_scenes"] for item in scene["items"]}
    assert {item.split("_")[1][:2] for item in read} == {"39", "40"}
    out = load_outputs(tmp_path / "results/ard", tile)
    assert qa["nodata_fraction"] < 0.01
    assert (out["s2_10"][..., 3] > 0).mean() > 0.99


def test_a_tile_without_scenes_fails_as_no_data_and_its_other_products_complete(
    tmp_path, demo_archive, s2_run
):
    """An archive whose catalogue has no Sentinel-2 item over the tile, as off the satellites'
    paths: the S2 job fails as no_data, its DEM job completes on the tile's S2 grid."""
    tile = next(iter(TILES))
    archive = archive_copy(tmp_path, demo_archive, "sentinel-2-l2a", lambda item: True)
    request = write_request(tmp_path / "request.json", {"2023": [tile]})

    result = Workflow(tmp_path, archive, request).run(check=False, products="[dem, s2]")

    assert result.returncode != 0
    base = tile_base(tmp_path / "results/ard", tile)
    # The DEM is on the grid the tile's S2 bands have when there are any.
    s2_grid = load_qa(s2_run[0].workdir / "results/ard", tile)["grid"]
    assert load_qa(tmp_path / "results/ard", tile, "dem")["grid"] == s2_grid
    slope = hickle.load(base / f"misc/dem_{tile}.hkl")
    assert list(slope.shape) == s2_grid["shape"]
    assert not [p for p in base.rglob("*.hkl") if "dem_" not in p.name]
    (folder,) = [p for p in (tmp_path / "results/job_reports").iterdir() if p.name != "run_logs"]
    assert f"s2 {tile}: failed (no_data), 1 attempt(s)" in (folder / "report.txt").read_text()
    assert "no Sentinel-2 scene in 2023 over" in (tmp_path / f"logs/s2/2023/{tile}.log").read_text()
