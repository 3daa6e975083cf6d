"""A tile's product is one computation: its files and the record written after them.

After any failure during a tile job's writes, either every file of the product is still the
previous computation's (and it counts as done), or its record is gone and the next plain run
redoes the tile. Tested here on a local folder; S3 in test_s3_destination.py.
"""

import hashlib
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from file_systems import filled_tmpfs, read_only
from workflow_runner import (
    Workflow,
    archive_copy,
    call_attempts,
    dem_file,
    jobs_run,
    truncated_copy,
    write_request,
)

from loaders.ard_io import write_tile
from loaders.errors import DestinationWriteError
from ttc_ard.keys import key_patterns, record_pattern

TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083}
TAG = "1655X1083Y"


def product_spec(dest: Path, product: str) -> dict:
    """The outputs and record of ``product`` for TILE under ``dest``, as the workflow gives
    them to a tile job."""
    return {
        "outputs": {
            name: str(dest / pattern.format(**TILE))
            for name, pattern in key_patterns(product).items()
        },
        "qa": str(dest / record_pattern(product).format(**TILE)),
    }


def s2_arrays(value: int) -> dict[str, np.ndarray]:
    """Arrays of each S2 output, filled with ``value``: one computation's files."""
    return {name: np.full((2, 3), value, np.uint16) for name in key_patterns("s2")}


def digests(spec: dict) -> dict[str, str]:
    """SHA-256 of each file of a product, the record included."""
    paths = [*spec["outputs"].values(), spec["qa"]]
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in paths}


def leftovers(dest: Path) -> list[Path]:
    return [path for path in dest.rglob("*") if path.name.endswith(".partial")]


def test_the_record_vouches_for_each_file_of_the_product(tmp_path):
    spec = product_spec(tmp_path, "s2")
    write_tile(spec["outputs"], spec["qa"], {"product": "s2"}, s2_arrays(1))

    record = json.loads(Path(spec["qa"]).read_text())
    for name, path in spec["outputs"].items():
        content = Path(path).read_bytes()
        assert record["files"][name] == {
            "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    assert record["product"] == "s2" and not leftovers(tmp_path)


def test_a_failure_while_staging_leaves_the_previous_product_whole(tmp_path):
    spec = product_spec(tmp_path, "s2")
    write_tile(spec["outputs"], spec["qa"], {"product": "s2"}, s2_arrays(1))
    before = digests(spec)

    # The cloud files' folder refuses writes, found after the bands were written aside.
    refusal = pytest.raises(DestinationWriteError, match="Read-only file system")
    with read_only(Path(spec["outputs"]["clouds"]).parent), refusal:
        write_tile(spec["outputs"], spec["qa"], {"product": "s2"}, s2_arrays(2))

    assert digests(spec) == before
    assert not leftovers(tmp_path)


def test_a_failure_while_putting_files_in_place_leaves_no_record(tmp_path):
    spec = product_spec(tmp_path, "s2")
    write_tile(spec["outputs"], spec["qa"], {"product": "s2"}, s2_arrays(1))
    # A folder stands where the cirrus mask goes: its new file is written aside, but cannot
    # be renamed into place, after the bands were.
    blocked = Path(spec["outputs"]["cloudmask"])
    blocked.unlink()
    blocked.mkdir()

    with pytest.raises(IsADirectoryError):
        write_tile(spec["outputs"], spec["qa"], {"product": "s2"}, s2_arrays(2))

    # The record was removed before the first file was replaced: the product is not done.
    assert not Path(spec["qa"]).exists()
    assert not leftovers(tmp_path)
    # The next write completes it, and its record vouches for the new files.
    blocked.rmdir()
    write_tile(spec["outputs"], spec["qa"], {"product": "s2"}, s2_arrays(2))
    record = json.loads(Path(spec["qa"]).read_text())
    for name, path in spec["outputs"].items():
        content = Path(path).read_bytes()
        assert record["files"][name]["sha256"] == hashlib.sha256(content).hexdigest()


@pytest.mark.workflow
def test_a_forced_rerun_refused_midway_leaves_every_file_of_the_previous_computation(
    tmp_path, demo_archive
):
    workdir = tmp_path / "work"
    workdir.mkdir()
    workflow = Workflow(workdir, demo_archive, write_request(workdir / "r.json", {"2023": [TAG]}))
    workflow.config["products"] = "[s2]"
    workflow.run()
    # The forced run's call attempts are the only ones in the run logs.
    shutil.rmtree(workdir / "results/job_reports/run_logs")
    dest = workdir / "results/ard"
    spec = product_spec(dest, "s2")
    before = digests(spec)
    # A different computation: a third of the tile's scenes have left the archive.
    thinned = archive_copy(
        tmp_path,
        demo_archive,
        "sentinel-2-l2a",
        lambda item: zlib.crc32(item["id"].encode()) % 3 == 0,
    )
    clouds = Path(spec["outputs"]["clouds"]).parent

    with filled_tmpfs(clouds):
        result = workflow.run("--forcerun", "s2", check=False, demo_archive=thinned)
        after = digests(spec)

    assert result.returncode != 0
    assert [a["reason"] for a in call_attempts(workdir)] == ["destination"]
    assert "No space left on device" in result.stderr
    # Not one file of the new computation: s2_10, s2_20 and s2_dates were written aside, and
    # dropped when the cloud files could not be.
    assert after == before
    assert not leftovers(dest)
    # So the tile counts as done, rightly.
    plan = workflow.run("-n")
    assert "Nothing to be done" in plan.stdout + plan.stderr


@pytest.mark.workflow
def test_a_product_without_its_record_is_redone_by_the_next_plain_run(tmp_path, demo_archive):
    workflow = Workflow(tmp_path, demo_archive, write_request(tmp_path / "r.json", {"2023": [TAG]}))
    workflow.run()
    spec = product_spec(tmp_path / "results/ard", "dem")
    before = digests(spec)
    # What a job killed between putting its files in place and writing its record leaves.
    Path(spec["qa"]).unlink()

    result = workflow.run()

    assert jobs_run(result.stdout + result.stderr, "dem") == 1
    assert digests(spec) == before


@pytest.fixture(scope="module")
def finished_dem(tmp_path_factory, demo_archive) -> tuple[Workflow, Path]:
    """A folder whose one tile's DEM is done; a corrupt copy of the DEM source beside it."""
    workdir = tmp_path_factory.mktemp("finished_dem")
    workflow = Workflow(workdir, demo_archive, write_request(workdir / "r.json", {"2023": [TAG]}))
    workflow.run()
    broken = truncated_copy(tmp_path_factory.mktemp("broken"), demo_archive, "copernicus-dem-30m")
    return workflow, broken


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("executor", "refusal"),
    [
        pytest.param((), None, id="lithops (the profile's)"),
        pytest.param(("--touch",), None, id="touch"),
        pytest.param(("--executor", "local"), "The local executor cannot run", id="local"),
        pytest.param(
            ("--workflow-profile", "none", "--executor", "lithops", "--jobs", "2"),
            "started without --keep-incomplete",
            id="lithops without keep-incomplete",
        ),
    ],
)
def test_no_executor_deletes_a_correct_output(finished_dem, executor, refusal):
    workflow, broken = finished_dem
    dem = dem_file(workflow.workdir / "results/ard", TAG)
    before = dem.read_bytes()

    # A forced re-run whose job fails (the DEM source is corrupt), wherever it would run.
    result = workflow.run("--forcerun", "dem", *executor, check=False, demo_archive=broken)

    assert dem.read_bytes() == before
    log = result.stdout + result.stderr
    if not executor:
        # The job ran, failed, and Snakemake kept what it would have replaced.
        assert result.returncode != 0 and jobs_run(log, "dem") == 1 and "is corrupt at" in log
    if refusal is None:
        return
    assert result.returncode != 0 and refusal in log
    assert "--executor lithops" in log or "--keep-incomplete" in log
    assert jobs_run(log, "dem") == 0
