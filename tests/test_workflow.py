"""The workflow end to end: Snakemake -> lithops executor -> Lithops localhost -> DEM ARD."""

import json
import re

import hickle
import numpy as np
import pytest
from workflow_runner import REPO, Workflow, write_request

pytestmark = pytest.mark.workflow

TILES = ["1655X1083Y", "1656X1084Y"]


def dem_file(dest, tile):
    x_tile, y_tile = re.fullmatch(r"(\d+)X(\d+)Y", tile).groups()
    return dest / f"2023/raw/{x_tile}/{y_tile}/raw/misc/dem_{tile}.hkl"


def jobs_run(stdout_and_err: str, rule: str) -> int:
    """How many jobs of ``rule`` Snakemake reported as started."""
    return len(re.findall(rf"^\s*(?:localrule|rule) {rule}:", stdout_and_err, re.MULTILINE))


def outside_snakemake(folder):
    """Every path under ``folder`` but Snakemake's own bookkeeping (.snakemake/)."""
    return sorted(p for p in folder.rglob("*") if ".snakemake" not in p.parts)


@pytest.fixture(scope="module")
def two_tile_run(tmp_path_factory, demo_archive):
    """One real run over two tiles; later tests re-run the same folder."""
    workdir = tmp_path_factory.mktemp("run")
    request = write_request(workdir / "request.json", {"2023": TILES})
    workflow = Workflow(workdir, demo_archive, request)
    first = workflow.run()
    return workflow, first


def test_first_run_writes_valid_dem_files_for_every_tile(two_tile_run):
    workflow, first = two_tile_run
    dest = workflow.workdir / "results/ard"
    for tile in TILES:
        slope = hickle.load(dem_file(dest, tile))
        assert slope.dtype == np.float32
        assert slope.shape == (600, 600)
        assert np.isfinite(slope).all()
        assert slope.min() >= 0.02 and slope.max() < 90
        assert slope.std() > 0.1  # real terrain, not a constant
    assert jobs_run(first.stderr, "dem") == 2
    csv = (workflow.workdir / "results/tiles.csv").read_text().splitlines()
    assert csv[0] == "Year,X,Y,Y_tile,X_tile" and len(csv) == 3


def test_every_call_is_in_the_run_log(two_tile_run):
    workflow, _ = two_tile_run
    logs = list((workflow.workdir / "results/job_reports/run_logs").glob("*.jsonl"))
    records = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    dem_records = [r for r in records if r["rule"] == "dem"]
    assert (
        sorted(f"{r['wildcards']['x_tile']}X{r['wildcards']['y_tile']}Y" for r in dem_records)
        == TILES
    )
    for record in dem_records:
        assert record["status"] == "success" and record["attempt"] == 1
        assert record["backend"] == "localhost" and record["region"] == "eu-central-1"
        assert record["stats"]["worker_end_tstamp"] >= record["stats"]["worker_start_tstamp"]
        assert record["result"]["shape"] == [600, 600]


def test_second_run_has_nothing_to_do(two_tile_run):
    workflow, _ = two_tile_run
    dest = workflow.workdir / "results/ard"
    before = {tile: dem_file(dest, tile).stat().st_mtime_ns for tile in TILES}
    again = workflow.run()
    assert "Nothing to be done" in again.stdout + again.stderr
    assert {tile: dem_file(dest, tile).stat().st_mtime_ns for tile in TILES} == before


def test_deleting_one_output_reruns_exactly_that_job(two_tile_run):
    workflow, _ = two_tile_run
    dest = workflow.workdir / "results/ard"
    kept_mtime = dem_file(dest, TILES[1]).stat().st_mtime_ns
    original = hickle.load(dem_file(dest, TILES[0]))
    dem_file(dest, TILES[0]).unlink()
    rerun = workflow.run()
    assert jobs_run(rerun.stderr, "dem") == 1
    assert dem_file(dest, TILES[1]).stat().st_mtime_ns == kept_mtime
    np.testing.assert_array_equal(hickle.load(dem_file(dest, TILES[0])), original)


def test_rewriting_the_request_builds_only_the_new_tile(two_tile_run):
    workflow, _ = two_tile_run
    dest = workflow.workdir / "results/ard"
    before = {tile: dem_file(dest, tile).stat().st_mtime_ns for tile in TILES}
    write_request(workflow.workdir / "request.json", {"2023": [*TILES, "1655X1084Y"]})
    rerun = workflow.run()
    assert jobs_run(rerun.stderr, "dem") == 1
    assert dem_file(dest, "1655X1084Y").exists()
    assert {tile: dem_file(dest, tile).stat().st_mtime_ns for tile in TILES} == before
    csv = (workflow.workdir / "results/tiles.csv").read_text().splitlines()
    assert len(csv) == 4, "the tiles CSV follows the new request"


def test_dry_run_prints_the_plan_and_writes_nothing(two_tile_run):
    workflow, _ = two_tile_run
    dest = workflow.workdir / "results/ard"
    dem_file(dest, TILES[0]).unlink()
    files_before = outside_snakemake(workflow.workdir)
    dry = workflow.run("-n")
    plan = dry.stderr[dry.stderr.index("Plan") :]
    assert re.search(r"^\s+dem\s+1\s+2\s+eu-central-1\s+1024 MB", plan, re.MULTILINE)
    assert "earlier localhost call(s)" in plan  # durations from the run log
    assert re.search(r"^Estimated cost: \$\d+\.\d+ \(budget \$5\.00\)", plan, re.MULTILINE)
    assert not dem_file(dest, TILES[0]).exists()
    assert outside_snakemake(workflow.workdir) == files_before


def test_run_over_budget_submits_and_writes_nothing(tmp_path, demo_archive):
    request = write_request(tmp_path / "request.json", {"2023": TILES})
    result = Workflow(tmp_path, demo_archive, request).run(check=False, budget_usd=0.0001)
    assert result.returncode != 0
    assert "exceeds the budget $0.0001, so nothing was submitted" in result.stderr
    assert "--config budget_usd=" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"retries": -1}, "'retries' = -1"),
        ({"dem_memory_mb": "lots"}, "'dem_memory_mb' = 'lots'"),
        ({"dem_region": "ap-south-1"}, "dem_region = 'ap-south-1' has no Lithops config"),
        ({"dest": "s3://bucket/prefix"}, "local folder only"),
        ({"tiledb": "/nonexistent/tiledb.parquet"}, "The tile DB /nonexistent/tiledb.parquet"),
    ],
)
def test_bad_config_stops_before_anything_is_written(tmp_path, demo_archive, config, says):
    request = write_request(tmp_path / "request.json", {"2023": TILES})
    result = Workflow(tmp_path, demo_archive, request).run(check=False, **config)
    assert result.returncode != 0
    assert says in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_request_without_valid_tiles_stops_with_the_reasons(tmp_path, demo_archive):
    request = write_request(tmp_path / "request.json", {"2023": ["99999X99999Y", "oops"]})
    result = Workflow(tmp_path, demo_archive, request).run(check=False)
    assert result.returncode != 0
    assert "has no tile to build" in result.stderr and "99999X99999Y" in result.stderr
    assert not (tmp_path / "results").exists()


def test_lambda_calls_with_a_local_destination_are_refused(tmp_path, demo_archive, monkeypatch):
    monkeypatch.setenv("TTC_LAMBDA_ROLE_ARN", "arn:aws:iam::000000000000:role/none")
    monkeypatch.setenv("TTC_LITHOPS_BUCKET_EU_CENTRAL_1", "none")
    request = write_request(tmp_path / "request.json", {"2023": TILES})
    lambda_config = str(REPO / "config/lithops/aws-eu-central-1.yaml")
    result = Workflow(tmp_path, demo_archive, request).run(
        check=False, lithops_config=json.dumps({"eu-central-1": lambda_config})
    )
    assert result.returncode != 0
    assert "runs the dem calls on aws_lambda" in result.stderr and "local folder" in result.stderr
    assert not (tmp_path / "results").exists()
