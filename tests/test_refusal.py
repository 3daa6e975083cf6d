"""A destination that refuses the outputs, under the shipped profile (``jobs: 1000``): every
ready tile is submitted in one Lithops map before the first refusal comes back, so stopping the
spending means dropping the calls that Lithops has queued but not started."""

import re

import pandas as pd
import pytest
from workflow_runner import MANY_TILES, REPO, Workflow, call_attempts, write_request

pytestmark = pytest.mark.workflow


def tile_id(x_tile: int, y_tile: int) -> str:
    return f"{x_tile}X{y_tile}Y"


def seconds_paid(attempt: dict) -> float:
    return attempt["stats"].get("worker_exec_time", 0)


def test_a_full_disk_under_the_shipped_profile_drops_the_calls_not_started(
    tmp_path, demo_archive, full_disk
):
    request = write_request(tmp_path / "r.json", {"2023": MANY_TILES})
    failed = Workflow(tmp_path, demo_archive, request).run(
        check=False, products="[dem]", dest=full_disk
    )
    # No --jobs: Snakemake takes `jobs: 1000` from the profile beside the Snakefile.
    assert f"workflow specific profile {REPO / 'profiles/default'}" in failed.stderr
    assert failed.returncode != 0

    attempts = call_attempts(tmp_path)
    ran = [a for a in attempts if a["attempt"] >= 1]
    not_started = [a for a in attempts if a["attempt"] == 0]
    # Only the calls started before the executor read the first refusal ran (a worker may still
    # be starting a call it took from the queue just before: a few seconds' grace); the rest
    # were dropped from Lithops' queue. How many ran depends on how quickly the refusal was read.
    first_refusal_read = min(a["settled"] for a in ran)
    late = [a for a in ran if a["stats"]["worker_start_tstamp"] > first_refusal_read + 5]
    assert not late, f"{len(late)} call(s) started after the refusal was read"
    assert not_started and len(ran) < len(MANY_TILES), f"{len(ran)} calls ran"
    assert max(a["attempt"] for a in attempts) == 1, "a call was retried after the refusal"
    assert all(a["final"] for a in attempts)
    assert sorted(tile_id(a["tile"]["x_tile"], a["tile"]["y_tile"]) for a in attempts) == sorted(
        MANY_TILES
    ), "every tile's job settled, once"
    assert {(a["status"], a["reason"]) for a in attempts} == {("error", "destination")}
    assert all("No space left on device" in a["error"] for a in ran)
    assert all(seconds_paid(a) > 0 for a in ran), "a call that ran is counted with its seconds"
    assert all(seconds_paid(a) == 0 and "Not started" in a["error"] for a in not_started)

    log = failed.stdout + failed.stderr
    assert len(re.findall(r"^Error in rule dem:", log, flags=re.MULTILINE)) == len(MANY_TILES)
    assert log.count("message: Not started, the destination refused") == len(not_started)
    assert not re.search(r"Finished jobid: \d+ \(Rule: dem\)", log)

    (failed_csv,) = (tmp_path / "results/job_reports").glob("*/failed_tiles.csv")
    failed_tiles = pd.read_csv(failed_csv)
    assert sorted(map(tile_id, failed_tiles.X_tile, failed_tiles.Y_tile)) == sorted(MANY_TILES)
    report = (failed_csv.parent / "report.txt").read_text()
    assert f"jobs: {len(MANY_TILES)} ({len(MANY_TILES)} error), call attempts: {len(ran)}" in report
    gb_seconds = sum(seconds_paid(a) * a["memory_mb"] / 1024 for a in attempts)
    assert f"({gb_seconds:.1f} GB-s" in report

    assert [p.name for p in full_disk.rglob("*") if p.is_file()] == ["filler"]
