"""The executor against the real Lithops localhost backend: outcomes, retries and the run log.

Snakemake's scheduler is replaced by lists recording its callbacks (as the slurm plugin's
tests do); the executor, Lithops and the loaders are the real ones.
"""

import asyncio
import contextlib
import json
import logging
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import hickle
import pytest
from lithops.constants import SESSION_ID_ENV, TOTAL_EXECUTORS_ENV
from snakemake.iocontainers import ResourceList
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from synthetic_dem import cells_for, plane, tile_shape
from workflow_runner import REPO

from loaders.tiles import tile_bbox
from snakemake_executor_plugin_lithops import Executor
from snakemake_executor_plugin_lithops.call_options import LoaderSpecs

TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}


def dem_job(
    jobid: int, tmp_path, dem_root, retries: int, output=None, memory_mb: int = 512
) -> SimpleNamespace:
    output = Path(output or tmp_path / f"out{jobid}" / "dem.hkl")
    spec = {
        "product": "dem",
        "tile": TILE,
        "outputs": {"dem": str(output)},
        "qa": str(output.with_suffix(".json")),
    } | ({"dem_root": str(dem_root)} if dem_root else {})
    return SimpleNamespace(
        jobid=jobid,
        name="dem",
        wildcards={"year": "2023", "x_tile": "1655", "y_tile": "1083"},
        output=[str(output)],
        log=[str(tmp_path / f"job{jobid}.log")],
        params=SimpleNamespace(
            loader=LoaderSpecs(lambda _: spec),
            lithops={
                "region": "eu-central-1",
                "config": str(REPO / "config/lithops/localhost.yaml"),
                "retries": retries,
            },
        ),
        resources=ResourceList(fromdict={"mem_mb": memory_mb}),
    )


@pytest.fixture
def executor(tmp_path, monkeypatch):
    """The plugin's Executor without Snakemake around it: callbacks are recorded."""
    # Lithops exports its session id; keep it out of the processes later tests start.
    monkeypatch.delenv(SESSION_ID_ENV, raising=False)
    monkeypatch.delenv(TOTAL_EXECUTORS_ENV, raising=False)
    ex = Executor.__new__(Executor)
    ex.logger = logging.getLogger("test-executor")
    ex.run_id = "test"
    ex.run_log = tmp_path / "run_log.jsonl"
    ex.function_executors = {}
    ex.lithops_lock = threading.Lock()
    ex.cancelling = False
    ex.unsettled = {}
    ex.destination_refusal = None
    ex.status_rate_limiter = contextlib.nullcontext()
    ex.submitted, ex.succeeded, ex.failed = [], [], []
    ex.run_job_pre = lambda job: None
    ex.report_job_submission = ex.submitted.append
    ex.report_job_success = ex.succeeded.append
    ex.report_job_error = lambda info, msg=None: ex.failed.append((info, msg))
    yield ex
    for fexec in ex.function_executors.values():
        fexec.clean(force=True, on_exit=True)


def run_to_completion(ex: Executor, jobs) -> list[dict]:
    """Submit ``jobs`` as one batch and poll until every call is settled; the run log."""
    ex.run_jobs(jobs)
    active: list[SubmittedJobInfo] = list(ex.submitted)

    async def poll(infos):
        return [info async for info in ex.check_active_jobs(infos)]

    for _ in range(240):
        active = asyncio.run(poll(active))
        if not active:
            break
        asyncio.run(asyncio.sleep(0.5))
    assert not active, "calls still running after 2 minutes"
    return [json.loads(line) for line in ex.run_log.read_text().splitlines()]


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens: every read is refused on the way."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/cop"


def test_one_map_settles_success_data_failure_bad_spec_and_retried_error(executor, tmp_path):
    dem_root = tmp_path / "cop"
    cells_for(dem_root, tile_bbox(TILE["lon"], TILE["lat"]), plane(TILE["lon"], TILE["lat"]))
    good = dem_job(1, tmp_path, dem_root, retries=2)
    no_cell = dem_job(2, tmp_path, tmp_path / "empty", retries=2)  # data problem
    malformed = dem_job(3, tmp_path, None, retries=2)  # spec without dem_root
    unreachable = dem_job(4, tmp_path, closed_port_url(), retries=2)  # a plain error

    records = run_to_completion(executor, [good, no_cell, malformed, unreachable])

    first_calls = {r["call"].split("/")[1] for r in records if r["attempt"] == 1}
    assert len(first_calls) == 1, f"the four jobs were not one map: {first_calls}"
    assert [info.job for info in executor.succeeded] == [good]
    assert list(hickle.load(good.output[0]).shape) == tile_shape(TILE)
    failed = {info.job.jobid: msg for info, msg in executor.failed}
    assert set(failed) == {2, 3, 4}
    assert "TileDataError" in failed[2] and "after 1 attempt(s)" in failed[2]
    # The next call would get the same spec: a malformed one is not paid for twice.
    assert "dem_root" in failed[3] and "(malformed job spec, not retried) after 1" in failed[3]
    assert "CURL error" in failed[4] and "(error) after 3 attempt(s)" in failed[4]

    by_job = {}
    for record in records:
        by_job.setdefault(record["jobid"], []).append(record)
    assert [r["status"] for r in by_job[1]] == ["success"]
    assert [(r["status"], r["reason"]) for r in by_job[2]] == [("failed", "missing_data")]
    assert [(r["status"], r["final"]) for r in by_job[3]] == [("error", True)]
    assert [(r["attempt"], r["final"]) for r in by_job[4]] == [(1, False), (2, False), (3, True)]
    assert len({r["call"] for r in by_job[4]}) == 3, "each attempt is its own call"
    assert all(r["status"] == "error" and "CURL error" in r["traceback_tail"] for r in by_job[4])
    assert "TileDataError" in (tmp_path / "job2.log").read_text()


def test_a_refused_output_is_not_retried_and_no_later_job_is_started(executor, tmp_path):
    dem_root = tmp_path / "cop"
    cells_for(dem_root, tile_bbox(TILE["lon"], TILE["lat"]), plane(TILE["lon"], TILE["lat"]))
    # /sys refuses new files, even to root: like a destination folder without write permission.
    refused = dem_job(1, tmp_path, dem_root, retries=2, output="/sys/ttc-ard/dem.hkl")

    records = run_to_completion(executor, [refused])
    assert [(r["attempt"], r["status"], r["reason"]) for r in records] == [
        (1, "error", "destination")
    ]
    ((_, message),) = executor.failed
    assert "not permitted" in message and "make /sys/ttc-ard writable" in message

    later = dem_job(2, tmp_path, dem_root, retries=2)
    executor.run_jobs([later])
    assert len(executor.submitted) == 1, "a call was started after the refusal"
    assert executor.failed[1][0].job is later and "Not started" in executor.failed[1][1]
    assert not (tmp_path / "out2").exists()
    assert "Not started" in (tmp_path / "job2.log").read_text()


def test_jobs_asking_for_different_memory_are_separate_maps(executor, tmp_path):
    dem_root = tmp_path / "cop"
    cells_for(dem_root, tile_bbox(TILE["lon"], TILE["lat"]), plane(TILE["lon"], TILE["lat"]))
    small = dem_job(1, tmp_path, dem_root, retries=0, memory_mb=512)
    also_small = dem_job(2, tmp_path, dem_root, retries=0, memory_mb=512)
    large = dem_job(3, tmp_path, dem_root, retries=0, memory_mb=3072)

    records = run_to_completion(executor, [small, also_small, large])

    maps = {r["jobid"]: r["call"].split("/")[1] for r in records}
    assert maps[1] == maps[2] != maps[3]
    assert {r["jobid"]: r["memory_mb"] for r in records} == {1: 512, 2: 512, 3: 3072}
    assert len(executor.succeeded) == 3
