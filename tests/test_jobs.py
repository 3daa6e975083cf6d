"""The tile-job skeleton: a spec checked and typed once, every product's job run the same way,
its files written as a unit and one summary of one shape returned."""

import importlib
import json
import re
from pathlib import Path

import pytest
from synthetic_dem import cells_for, dem_spec, plane, tile_shape

from loaders import qa
from loaders.errors import TileDataError
from loaders.jobs import run_job
from loaders.spec import Catalog, SpecError, TileJob
from loaders.tiles import Tile, tile_bbox
from ttc_ard.keys import ARD_FILES

TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}


def s1_spec() -> dict:
    """An S1 spec as ``loader_spec`` in workflow/rules/common.smk builds it for real sources."""
    return {
        "product": "s1",
        "tile": TILE,
        "outputs": {"s1": "s3://bucket/s1.hkl", "s1_dates": "s3://bucket/s1_dates.hkl"},
        "qa": "s3://bucket/qa/s1.json",
        "s3_endpoint_url": "http://127.0.0.1:9000",
        "source_s3_endpoint_url": "https://s3.example.org:8443/",
        "stac": {"url": "https://earth-search.aws.element84.com/v1"},
        "dem_root": "s3://copernicus-dem-30m",
        "geoid": "https://cdn.proj.org/us_nga_egm08_25.tif",
        "requester_pays": True,
        "gdal_env": {"AWS_REQUEST_PAYER": "requester"},
    }


def test_a_workflow_spec_becomes_a_typed_job():
    job = TileJob.from_spec(s1_spec())
    assert job.product == "s1" and job.tile == Tile(**TILE)
    assert job.stac == Catalog(url="https://earth-search.aws.element84.com/v1")
    assert job.outputs["s1_dates"] == "s3://bucket/s1_dates.hkl"
    assert job.requester_pays is True and job.gdal_env == {"AWS_REQUEST_PAYER": "requester"}
    assert job.s3_endpoint_url == "http://127.0.0.1:9000"
    assert job.source_s3_endpoint_url == "https://s3.example.org:8443/"
    assert job.geoid == "https://cdn.proj.org/us_nga_egm08_25.tif"


def test_the_sources_s3_endpoint_reaches_gdal_under_the_specs_own_settings():
    job = TileJob.from_spec(s1_spec())
    assert job.source_gdal_env == {
        "AWS_S3_ENDPOINT": "s3.example.org:8443",
        "AWS_HTTPS": "YES",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_REQUEST_PAYER": "requester",
    }
    plain = s1_spec() | {"source_s3_endpoint_url": "http://127.0.0.1:9000"}
    assert TileJob.from_spec(plain).source_gdal_env["AWS_HTTPS"] == "NO"
    # The spec's own settings win.
    own = s1_spec() | {"gdal_env": {"AWS_VIRTUAL_HOSTING": "TRUE"}}
    assert TileJob.from_spec(own).source_gdal_env["AWS_VIRTUAL_HOSTING"] == "TRUE"


def test_optional_keys_take_their_defaults():
    job = TileJob.from_spec(dem_spec(Path("/out"), Path("/cop")))
    assert job.stac is None and job.s3_endpoint_url is None
    assert job.gdal_env == {} and job.requester_pays is False
    assert job.source_s3_endpoint_url is None and job.source_gdal_env == {}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"dem_root": None}, "tile job spec of s1: missing key(s) ['dem_root']"),
        ({"qa": None}, "missing key(s) ['qa']"),
        ({"dem_rot": "s3://x"}, "unknown key(s) ['dem_rot']"),
        ({"product": "s3"}, "product 's3' is none of ['dem', 's1', 's2']"),
        ({"tile": {"year": 2023, "x_tile": 1, "y_tile": 2}}, "tile must hold the fields"),
        ({"tile": TILE | {"zoom": 3}}, "tile must hold the fields"),
        ({"stac": {"uri": "https://x"}}, "stac must hold the fields"),
        ({"stac": {}}, "stac names no catalogue"),
        ({"outputs": ["s3://bucket/s1.hkl"]}, "outputs map names to destinations"),
        ({"source_s3_endpoint_url": "127.0.0.1:9000"}, "is not an http(s) URL"),
        ({"stac": {"url": "https://x", "page": 10}}, "stac must hold the fields"),
        ({"stac": {"url": "https://x", "page_size": 0}}, "stac page_size 0 is not in 1..10000"),
    ],
)
def test_a_malformed_spec_is_refused_naming_the_problem(change, says):
    spec = s1_spec()
    for key, value in change.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    with pytest.raises(SpecError, match=re.escape(says)):
        TileJob.from_spec(spec)


def test_a_spec_that_is_not_a_mapping_is_refused():
    with pytest.raises(SpecError, match="is a mapping, not list"):
        TileJob.from_spec([("product", "dem")])


def test_every_products_job_writes_the_outputs_the_workflow_asks_for():
    # The workflow names the outputs (ttc_ard.keys); each product's job computes them.
    for product, files in ARD_FILES.items():
        computed = importlib.import_module(f"loaders.{product}_job").OUTPUTS
        assert computed == tuple(files), product


def test_outputs_that_are_not_the_products_are_refused_before_any_read(tmp_path):
    spec = dem_spec(tmp_path, tmp_path / "no-cells-here")
    spec["outputs"] = {"slope": str(tmp_path / "slope.hkl")}
    # Not TileDataError (missing_data): the cells are never looked for.
    with pytest.raises(SpecError, match=r"outputs \['slope'\] are not the product's \['dem'\]"):
        run_job(spec)
    assert not any(tmp_path.iterdir())


def test_the_job_writes_its_files_and_returns_the_one_summary_shape(tmp_path):
    cells_for(
        tmp_path / "cop", tile_bbox(TILE["lon"], TILE["lat"]), plane(TILE["lon"], TILE["lat"])
    )
    spec = dem_spec(tmp_path, tmp_path / "cop")
    summary = run_job(spec)
    assert set(summary) == {"product", "seconds", "shapes", "qa", "reads"}
    assert summary["product"] == "dem" and summary["seconds"] > 0
    assert summary["shapes"] == {"dem": tile_shape(TILE)}
    record = json.loads(Path(spec["qa"]).read_text())
    assert set(record.pop(qa.FILES)) == {"dem"}
    # The run log keeps the record's summary, which the reports read.
    assert summary["qa"] == qa.summary(record)
    assert summary["qa"][qa.TILE] == "1655X1083Y" and summary["qa"][qa.CONSTANT] is False


def test_a_tile_data_error_writes_nothing(tmp_path):
    with pytest.raises(TileDataError) as err:
        run_job(dem_spec(tmp_path, tmp_path / "no-cells-here"))
    assert err.value.reason == "missing_data"
    assert not (tmp_path / "ard").exists()
