"""The workflow end to end: Snakemake -> lithops executor -> Lithops localhost -> DEM ARD."""

import json
import re
import shutil
import signal

import hickle
import numpy as np
import pandas as pd
import pytest
from workflow_runner import REPO, Workflow, dem_file, jobs_run, wait_for_line, write_request

from demo_archive.dem import write_dem_cell
from loaders.copdem import cell_id
from loaders.dem import source_cells
from loaders.grid import Grid, tile_grid
from loaders.tiles import Tile, tile_bbox

pytestmark = pytest.mark.workflow

TILES = ["1655X1083Y", "1656X1084Y"]


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


def tile_grids_of_run(workdir) -> dict[str, Grid]:
    """The grid of each tile of a run, by tag, from the tile list the run wrote."""
    rows = pd.read_csv(workdir / "results/tiles.csv")
    return {
        f"{row.X_tile}X{row.Y_tile}Y": tile_grid(
            Tile(row.Year, row.X_tile, row.Y_tile, row.X, row.Y)
        )
        for row in rows.itertuples()
    }


def test_first_run_writes_valid_dem_files_for_every_tile(two_tile_run):
    workflow, first = two_tile_run
    dest = workflow.workdir / "results/ard"
    grids = tile_grids_of_run(workflow.workdir)
    for tile in TILES:
        slope = hickle.load(dem_file(dest, tile))
        assert slope.dtype == np.float32
        # The tile's S2 10 m grid, in its UTM zone.
        assert slope.shape == (grids[tile].height, grids[tile].width)
        assert np.isfinite(slope).all()
        assert slope.min() >= 0.02 and slope.max() < 90
        assert slope.std() > 0.1  # real terrain, not a constant
        qa_file = dem_file(dest, tile).parent.parent / f"qa/dem_{tile}.json"
        qa = json.loads(qa_file.read_text())
        assert qa["grid"] == {
            "crs": grids[tile].crs,
            "shape": list(slope.shape),
            "transform": list(grids[tile].transform)[:6],
        }
        assert qa["slope_deg"]["max"] == float(slope.max())
    assert jobs_run(first.stderr, "dem") == 2
    csv = (workflow.workdir / "results/tiles.csv").read_text().splitlines()
    assert csv[0] == "Year,X,Y,Y_tile,X_tile" and len(csv) == 3


def test_every_call_is_in_the_run_log(two_tile_run):
    workflow, _ = two_tile_run
    logs = list((workflow.workdir / "results/job_reports/run_logs").glob("*.jsonl"))
    records = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    dem_records = [r for r in records if r["rule"] == "dem"]
    grids = tile_grids_of_run(workflow.workdir)
    assert (
        sorted(f"{r['wildcards']['x_tile']}X{r['wildcards']['y_tile']}Y" for r in dem_records)
        == TILES
    )
    for record in dem_records:
        assert record["status"] == "success" and record["attempt"] == 1
        assert record["backend"] == "localhost" and record["region"] == "eu-central-1"
        assert record["stats"]["worker_end_tstamp"] >= record["stats"]["worker_start_tstamp"]
        grid = grids[f"{record['wildcards']['x_tile']}X{record['wildcards']['y_tile']}Y"]
        assert record["result"]["shapes"] == {"dem": [grid.height, grid.width]}


def test_the_final_rule_feeds_snakemakes_html_report(two_tile_run):
    workflow, _ = two_tile_run
    latest = (workflow.workdir / "results/job_reports/latest/report.txt").read_text()
    assert "dem    eu-central-1  2/2 (100 %)" in latest
    plots = workflow.workdir / "results/plots/latest"
    assert {p.name for p in plots.glob("*.png")} == {
        "timeline_eu-central-1.png",
        "durations_dem.png",
    }
    workflow.run("--report", "report.html")
    html = (workflow.workdir / "report.html").read_text()
    assert "timeline_eu-central-1.png" in html and "durations_dem.png" in html
    (workflow.workdir / "report.html").unlink()


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
        ({"dem_memory_mb": 100000}, "'dem_memory_mb' = 100000"),
        ({"retries": 1000}, "'retries' = 1000"),
        ({"dem_memroy_mb": 2048}, "dem_memroy_mb"),
        ({"dest": "gs://bucket/prefix"}, "the scheme gs:// is not supported"),
        ({"dest": "s3://Bucket_Name/prefix"}, "'Bucket_Name' is not a valid S3 bucket name"),
        ({"dest": "s3://bucket/ard//v1"}, "has an empty folder ('//')"),
        ({"dest": "results/../../elsewhere"}, "has a '.' or '..' component"),
        ({"dest": "/proc/ttc-ard"}, "Cannot write to the destination folder /proc/ttc-ard"),
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


def test_a_malformed_request_stops_naming_the_file_and_the_place(tmp_path, demo_archive):
    request = tmp_path / "request.json"
    request.write_text('{"test-project": {"2023": {"missing_tiles": ["1655X1083Y",]}}}')
    result = Workflow(tmp_path, demo_archive, request).run(check=False)
    assert result.returncode != 0
    assert f"The request {request} is not valid JSON: Expecting value at line 1" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_a_year_before_the_sensor_stops_naming_the_product(tmp_path, demo_archive):
    request = write_request(tmp_path / "request.json", {"2014": ["1655X1083Y"]})
    result = Workflow(tmp_path, demo_archive, request).run(check=False, products="[dem, s2]")
    assert result.returncode != 0
    assert "s2 has no data before 2015 (asked: 2014)" in result.stderr
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


def test_a_tile_that_fails_is_reported_and_the_others_complete(tmp_path, demo_archive):
    good, bad = "1655X1083Y", "1685X1083Y"
    archive = tmp_path / "archive"
    dem_cells = archive / "copernicus-dem-30m"
    shared = demo_archive / "copernicus-dem-30m" / cell_id(6, -2)
    if not shared.exists():
        write_dem_cell(6, -2, shared / f"{cell_id(6, -2)}.tif", tmp_path / "item.json")
    shutil.copytree(shared, dem_cells / cell_id(6, -2))
    bad_cells = source_cells(tile_bbox(-0.0278, 6.6389))
    for lat, lon in bad_cells:  # the bad tile's cells: corrupt
        (dem_cells / cell_id(lat, lon)).mkdir(parents=True)
        (dem_cells / cell_id(lat, lon) / f"{cell_id(lat, lon)}.tif").write_bytes(
            b"II*\0" + bytes(64)
        )
    for cell in dem_cells.iterdir():
        item = archive / "stac/cop-dem-glo-30" / f"{cell.name}.json"
        item.parent.mkdir(parents=True, exist_ok=True)
        item.write_text("{}")
    request = write_request(tmp_path / "request.json", {"2023": [good, bad]})

    result = Workflow(tmp_path, archive, request).run(check=False)

    assert result.returncode != 0
    dest = tmp_path / "results/ard"
    assert dem_file(dest, good).exists() and not dem_file(dest, bad).exists()
    assert not list(dest.rglob("*.partial"))
    (folder,) = [p for p in (tmp_path / "results/job_reports").iterdir() if p.name != "run_logs"]
    report = (folder / "report.txt").read_text()
    assert "dem    eu-central-1  1/2 (50 %)" in report
    assert f"dem {bad}: failed (bad_data), 1 attempt(s)" in report
    assert "data quality, dem: 1 tile(s)" in report
    failed = (folder / "failed_tiles.csv").read_text().splitlines()
    assert failed == ["Year,X,Y,Y_tile,X_tile", "2023,-0.0278,6.6389,1083,1685"]
    assert "Reports of this run" in result.stderr and "1/2 (50 %)" in result.stderr
    plots = tmp_path / "results/plots" / folder.name
    assert {p.name for p in plots.iterdir()} == {"timeline_eu-central-1.png", "durations_dem.png"}
    assert "TileDataError" in (tmp_path / f"logs/dem/2023/{bad}.log").read_text()

    # Once the archive is fixed, a plain re-run completes the failed tile, and only it.
    for lat, lon in bad_cells:
        cell = cell_id(lat, lon)
        write_dem_cell(lat, lon, dem_cells / cell / f"{cell}.tif", tmp_path / "item.json")
    good_mtime = dem_file(dest, good).stat().st_mtime_ns
    fixed = Workflow(tmp_path, archive, request).run()
    assert jobs_run(fixed.stdout + fixed.stderr, "dem") == 1
    assert dem_file(dest, bad).exists()
    assert dem_file(dest, good).stat().st_mtime_ns == good_mtime


def test_ctrl_c_stops_cleanly_and_still_writes_the_reports(tmp_path, demo_archive):
    tiles = [f"{x}X{y}Y" for x in range(1654, 1659) for y in range(1082, 1087)]
    request = write_request(tmp_path / "request.json", {"2023": tiles})
    workflow = Workflow(tmp_path, demo_archive, request)
    workflow.run("--until", "demo_dem_cell")  # the archive first, so that Ctrl-C hits the calls
    snakemake = workflow.start()
    stderr = wait_for_line(snakemake, "(Rule: dem)")  # the first tile is done: stop the rest
    snakemake.send_signal(signal.SIGINT)
    stderr += snakemake.stderr.read()
    assert snakemake.wait(timeout=120) != 0
    assert "Terminating processes on user request" in stderr

    dest = tmp_path / "results/ard"
    written = list(dest.rglob("*.hkl"))
    assert 1 <= len(written) < len(tiles)
    assert not list(dest.rglob("*.partial"))
    (folder,) = [p for p in (tmp_path / "results/job_reports").iterdir() if p.name != "run_logs"]
    jobs = json.loads((folder / "jobs.json").read_text())
    assert {job["status"] for job in jobs} <= {"success", "cancelled"}
    assert "cancelled" in {job["status"] for job in jobs}
    done = {job["tile"] for job in jobs if job["status"] == "success"}
    # No job is reported done whose output is missing.
    assert done <= {path.name[len("dem_") : -len(".hkl")] for path in written}


def test_a_run_is_its_own_lithops_session(tmp_path, demo_archive, monkeypatch):
    # Started from a process that used Lithops (its session id is in the environment), a run
    # must not share that session's storage keys, which the parent's cleanup deletes.
    monkeypatch.setenv("__LITHOPS_SESSION_ID", "parent")
    monkeypatch.setenv("__LITHOPS_TOTAL_EXECUTORS", "0")
    request = write_request(tmp_path / "request.json", {"2023": TILES[:1]})
    Workflow(tmp_path, demo_archive, request).run()
    (log,) = (tmp_path / "results/job_reports/run_logs").glob("*.jsonl")
    calls = [json.loads(line)["call"] for line in log.read_text().splitlines()]
    assert calls and not any(call.startswith("parent-") for call in calls)


@pytest.mark.parametrize(
    ("dest", "says"),
    [
        ("/", "is the root of the file system"),
        ("s3:/bucket/ard", "is not a valid S3 destination"),
        ("s3:///ard", "names no S3 bucket"),
    ],
)
def test_a_destination_that_cannot_be_right_stops_even_a_dry_run(
    tmp_path, demo_archive, dest, says
):
    request = write_request(tmp_path / "request.json", {"2023": TILES})
    result = Workflow(tmp_path, demo_archive, request).run("-n", check=False, dest=dest)
    assert result.returncode != 0
    output = result.stdout + result.stderr  # a dry run logs to stdout
    assert f"dest = {dest!r} {says}" in output and "--config dest=" in output
    assert outside_snakemake(tmp_path) == [request]


def test_a_destination_under_the_home_folder_is_expanded(tmp_path, demo_archive):
    home, workdir = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    workdir.mkdir()
    request = write_request(workdir / "request.json", {"2023": TILES})
    workflow = Workflow(workdir, demo_archive, request)
    workflow.env["HOME"] = str(home)
    dry = workflow.run("-n", dest="~/ard")
    assert f"output: {dem_file(home / 'ard', TILES[0])}" in dry.stdout
    assert outside_snakemake(workdir) == [request]  # no folder named '~'


def test_a_damaged_earlier_run_log_is_skipped_with_one_warning(tmp_path, demo_archive):
    # An earlier run killed mid-write, binary garbage, then a line cut short: the plan still
    # takes the duration of the one call that was logged whole.
    run_logs = tmp_path / "results/job_reports/run_logs"
    run_logs.mkdir(parents=True)
    damaged = run_logs / "20240101T000000Z-killed.jsonl"
    call = {
        "rule": "dem",
        "backend": "localhost",
        "status": "success",
        "stats": {"worker_exec_time": 2.0},
    }
    damaged.write_bytes(
        json.dumps(call).encode() + b"\n\xff\xfe\x00\x81 garbage\n" + b'{"rule": "dem", "back'
    )
    workflow = Workflow(tmp_path, demo_archive, REPO / "config/requests/demo.json")
    result = workflow.run()
    # Named as report_dir names it: relative to the working directory.
    named = damaged.relative_to(tmp_path)
    assert f"Skipped 2 damaged line(s) of the run log {named}" in result.stderr
    assert result.stderr.count(str(named)) == 1
    plan = result.stderr[result.stderr.index("Plan") :]
    assert re.search(r"^\s+dem\s+4\s+0\s+eu-central-1 .* median of 1 earlier localhost", plan, re.M)
    assert jobs_run(result.stderr, "dem") == 4
