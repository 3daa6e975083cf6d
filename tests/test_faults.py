"""Faults a run must survive: Snakemake killed, a worker killed while writing, two runs at
once, a forced re-run. Each through the real workflow and Lithops localhost."""

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import hickle
import psutil
import pytest
from workflow_runner import (
    MANY_TILES,
    Workflow,
    call_attempts,
    dem_file,
    wait_for_line,
    write_request,
)

pytestmark = pytest.mark.workflow

#: Nine DEM tiles: enough calls that a kill lands with some finished and some not.
TILES = [f"{x}X{y}Y" for x in range(1654, 1657) for y in range(1082, 1085)]
S2_TILE = "1655X1083Y"


def started_tiles(log: str, rule: str = "dem") -> dict[str, str]:
    """Snakemake job id -> tile of every ``rule`` job that a Snakemake log shows starting."""
    jobs = {}
    for block in re.split(rf"^\s*rule {rule}:$", log, flags=re.MULTILINE)[1:]:
        block = re.split(r"^\[", block, flags=re.MULTILINE)[0]
        jobid = re.search(r"jobid: (\d+)", block).group(1)
        jobs[jobid] = re.search(rf"logs/{rule}/2023/(\w+)\.log", block).group(1)
    return jobs


def finished_tiles(log: str, rule: str = "dem") -> set[str]:
    """The tiles whose ``rule`` job Snakemake reported finished."""
    started = started_tiles(log, rule)
    return {started[j] for j in re.findall(rf"Finished jobid: (\d+) \(Rule: {rule}\)", log)}


def partial_writer(pid: int) -> psutil.Process | None:
    """A process started by ``pid`` that has a tile output's temporary file open, if any (not a
    local job's, such as the tiles table that ``tiles_csv`` writes at the same time)."""
    for process in psutil.Process(pid).children(recursive=True):
        try:
            if any(re.search(r"\.hkl\.\w+\.partial$", f.path) for f in process.open_files()):
                return process
        except psutil.Error:
            continue
    return None


def lithops_runner(pid: int) -> psutil.Process | None:
    """A Lithops localhost task runner started by ``pid``, if one is running."""
    for process in psutil.Process(pid).children():
        try:
            if "localhost-runner" in " ".join(process.cmdline()):
                return process
        except psutil.Error:
            continue
    return None


def wait_for_process(
    snakemake: subprocess.Popen, find: Callable[[int], psutil.Process | None]
) -> psutil.Process:
    """The first process ``find(snakemake.pid)`` gives while Snakemake runs."""
    deadline = time.monotonic() + 300
    while snakemake.poll() is None and time.monotonic() < deadline:
        process = find(snakemake.pid)
        if process is not None:
            return process
        time.sleep(0.01)
    raise AssertionError(f"{find.__name__} found no process while Snakemake ran")


def start_s2_run(tmp_path: Path, demo_archive: Path) -> subprocess.Popen:
    """A Sentinel-2 run of one tile in the background, its demo scenes made first (so that
    its only Lithops call starts at once), its log in ``snakemake.log``."""
    request = write_request(tmp_path / "request.json", {"2023": [S2_TILE]})
    workflow = Workflow(tmp_path, demo_archive, request)
    workflow.run("--until", "demo_scenes", products="[s2]")
    return workflow.start(products="[s2]", log=tmp_path / "snakemake.log")


@pytest.fixture(scope="module")
def reference_dest(tmp_path_factory, demo_archive):
    """The nine tiles built by one uninterrupted run."""
    workdir = tmp_path_factory.mktemp("reference")
    Workflow(workdir, demo_archive, write_request(workdir / "request.json", {"2023": TILES})).run()
    return workdir / "results/ard"


def test_a_killed_run_resumes_and_recomputes_only_unfinished_tiles(
    tmp_path, demo_archive, reference_dest
):
    workflow = Workflow(tmp_path, demo_archive, write_request(tmp_path / "r.json", {"2023": TILES}))
    snakemake = workflow.start()
    log = wait_for_line(snakemake, "(Rule: dem)")
    workers = psutil.Process(snakemake.pid).children(recursive=True)
    os.killpg(snakemake.pid, signal.SIGKILL)
    snakemake.wait(timeout=60)
    log += snakemake.stderr.read()
    # Lithops's local task processes run in sessions of their own: like Lambda calls, the calls
    # already running outlive the killed run and finish (each write is atomic).
    psutil.wait_procs(workers, timeout=300)
    dest = tmp_path / "results/ard"
    finished = finished_tiles(log)
    assert 1 <= len(finished) < len(TILES)
    finished_mtimes = {tile: dem_file(dest, tile).stat().st_mtime_ns for tile in finished}

    # Do what Snakemake asks: unlock the folder (the killed run's lock is left), and re-run
    # the incomplete jobs (the calls running at the kill, whose outputs it never confirmed).
    flags, asked = [], set()
    for _ in range(3):
        resumed = workflow.run(*flags, check=False)
        if resumed.returncode == 0:
            break
        if "Directory cannot be locked" in resumed.stderr:
            asked.add("--unlock")
            workflow.run("--unlock")
        elif "--rerun-incomplete" in resumed.stderr:
            asked.add("--rerun-incomplete")
            flags.append("--rerun-incomplete")
        else:
            raise AssertionError(resumed.stderr[-4000:])
    assert resumed.returncode == 0 and "--unlock" in asked

    assert set(started_tiles(resumed.stdout + resumed.stderr).values()) == set(TILES) - finished
    for tile, mtime in finished_mtimes.items():
        assert dem_file(dest, tile).stat().st_mtime_ns == mtime
    for tile in TILES:
        assert dem_file(dest, tile).read_bytes() == dem_file(reference_dest, tile).read_bytes()
    assert not list(dest.rglob("*.partial"))

    # A forced re-run replaces every output by a new file with the same bytes.
    inodes = {tile: dem_file(dest, tile).stat().st_ino for tile in TILES}
    forced = workflow.run("--forcerun", "dem")
    assert set(started_tiles(forced.stdout + forced.stderr).values()) == set(TILES)
    for tile in TILES:
        assert dem_file(dest, tile).stat().st_ino != inodes[tile]
        assert dem_file(dest, tile).read_bytes() == dem_file(reference_dest, tile).read_bytes()


def test_a_worker_killed_while_writing_leaves_no_file_and_its_call_is_retried(
    tmp_path, demo_archive
):
    snakemake = start_s2_run(tmp_path, demo_archive)
    wait_for_process(snakemake, partial_writer).kill()  # like Lambda's OOM or timeout kill
    assert snakemake.wait(timeout=600) == 0, (tmp_path / "snakemake.log").read_text()[-4000:]

    attempts = call_attempts(tmp_path)
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "error"), (2, "success")]
    assert "SIGKILL" in attempts[0]["error"]
    dest = tmp_path / "results/ard"
    assert not list(dest.rglob("*.partial"))
    outputs = list(dest.rglob("*.hkl"))
    assert len(outputs) == 6
    for output in outputs:
        hickle.load(output)  # whole files


def test_a_worker_killed_with_its_process_group_is_noticed_and_retried(tmp_path, demo_archive):
    # Killed as a whole, a local worker writes no status for its call, and Lithops alone would
    # wait for that call forever.
    snakemake = start_s2_run(tmp_path, demo_archive)
    os.killpg(wait_for_process(snakemake, lithops_runner).pid, signal.SIGKILL)
    assert snakemake.wait(timeout=600) == 0, (tmp_path / "snakemake.log").read_text()[-4000:]

    attempts = call_attempts(tmp_path)
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "error"), (2, "success")]
    assert "ended without reporting an outcome" in attempts[0]["error"]
    assert len(list((tmp_path / "results/ard").rglob("*.hkl"))) == 6


def test_a_full_disk_fails_the_tile_that_meets_it_and_starts_no_further_call(
    tmp_path, demo_archive, reference_dest, full_disk
):
    tiles = TILES[:3]
    workflow = Workflow(tmp_path, demo_archive, write_request(tmp_path / "r.json", {"2023": tiles}))
    # One job at a time, so that the refusal comes before the other tiles' calls start.
    failed = workflow.run("--jobs", "1", check=False, products="[dem]", dest=full_disk)
    assert failed.returncode != 0

    attempts = call_attempts(tmp_path)
    assert [(a["attempt"], a["status"], a["reason"]) for a in attempts] == [
        (1, "error", "destination"),  # computed, refused at its first write, not retried
        (0, "error", "destination"),  # not started
        (0, "error", "destination"),
    ]
    assert "No space left on device" in attempts[0]["error"]
    assert f"free space on {full_disk}" in failed.stderr
    assert len(re.findall(r"^Error in rule dem:", failed.stderr, flags=re.MULTILINE)) == 3
    assert failed.stderr.count("message: Not started, the destination refused") == 2
    assert "There was an exception" not in failed.stdout + failed.stderr  # said once, above
    assert [p.name for p in full_disk.rglob("*") if p.is_file()] == ["filler"]
    (failed_csv,) = (tmp_path / "results/job_reports").glob("*/failed_tiles.csv")
    assert len(failed_csv.read_text().splitlines()) == 1 + len(tiles)
    report = (failed_csv.parent / "report.txt").read_text()
    assert "jobs: 3 (3 error), call attempts: 1" in report

    # Space freed, a plain re-run completes the request.
    (full_disk / "filler").unlink()
    workflow.run(products="[dem]", dest=full_disk)
    for tile in tiles:
        assert dem_file(full_disk, tile).read_bytes() == dem_file(reference_dest, tile).read_bytes()


def test_a_second_run_in_the_same_folder_is_refused_while_the_first_runs(tmp_path, demo_archive):
    request = write_request(tmp_path / "r.json", {"2023": MANY_TILES})
    workflow = Workflow(tmp_path, demo_archive, request)
    first = workflow.start()
    wait_for_line(first, "rule dem:")
    second = workflow.run(check=False)
    first.stderr.read()
    assert second.returncode != 0
    # Snakemake names the lock, or first the outputs of the running jobs that it has not yet
    # confirmed (as incomplete files); either way the second run starts nothing.
    assert (
        "Directory cannot be locked" in second.stderr or "IncompleteFilesException" in second.stderr
    )
    assert not started_tiles(second.stdout + second.stderr)
    assert first.wait(timeout=600) == 0
    for tile in MANY_TILES:
        hickle.load(dem_file(tmp_path / "results/ard", tile))


def test_two_runs_from_different_folders_into_one_destination_both_leave_whole_files(
    tmp_path, demo_archive, reference_dest
):
    dest = tmp_path / "shared-ard"
    runs = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        request = write_request(workdir / "r.json", {"2023": TILES})
        workflow = Workflow(workdir, demo_archive, request)
        runs.append(workflow.start(log=workdir / "snakemake.log", dest=dest))
    assert [run.wait(timeout=600) for run in runs] == [0, 0]
    for tile in TILES:
        assert dem_file(dest, tile).read_bytes() == dem_file(reference_dest, tile).read_bytes()
    assert not list(dest.rglob("*.partial"))
