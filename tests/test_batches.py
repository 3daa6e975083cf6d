"""Large requests: one plan holds at most max_plan_tiles tiles, and a request beyond that runs
in batches (config batch=i/N), each planning and building its share of the tiles."""

import pytest
from workflow_runner import Workflow, dem_file, jobs_run, write_request

pytestmark = pytest.mark.workflow

TILES = ["1655X1083Y", "1656X1083Y", "1655X1084Y", "1656X1084Y"]


@pytest.fixture
def workflow(tmp_path, demo_archive):
    request = write_request(tmp_path / "request.json", {"2023": TILES})
    return Workflow(tmp_path, demo_archive, request)


def test_a_request_beyond_one_plan_names_the_batches_to_run(workflow):
    result = workflow.run("-n", check=False, max_plan_tiles=3)
    assert result.returncode != 0
    message = " ".join((result.stdout + result.stderr).split())
    assert "4 tiles to plan" in message and "max_plan_tiles=3" in message
    assert "snakemake --config batch=i/2 for i = 1, 2 ... 2" in message
    assert not (workflow.workdir / "results").exists()


def test_a_batch_that_does_not_exist_is_refused(workflow):
    result = workflow.run("-n", check=False, batch="3/2")
    assert result.returncode != 0
    assert "batch=i/2 with i from 1 to 2" in " ".join((result.stdout + result.stderr).split())


def test_batches_build_their_share_each_and_together_the_whole_request(workflow):
    dest = workflow.workdir / "results/ard"
    first = workflow.run(batch="1/2", max_plan_tiles=2)
    assert "Batch 1/2: 2 of these tiles." in first.stderr
    assert jobs_run(first.stdout + first.stderr, "dem") == 2
    assert sum(dem_file(dest, tile).exists() for tile in TILES) == 2
    # A batch is a whole run: its latest report too.
    assert (workflow.workdir / "results/job_reports/latest/report.txt").exists()

    last = workflow.run(batch="2/2", max_plan_tiles=2)
    assert jobs_run(last.stdout + last.stderr, "dem") == 2
    assert all(dem_file(dest, tile).exists() for tile in TILES)
    # Together they are the whole request: nothing left to build.
    again = workflow.run("-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_tile_of_another_batch_is_refused_before_any_job(workflow):
    dest = workflow.workdir / "results/ard"
    # A DEM of batch 1 and one of batch 2, asked for by name (--cores ends --config's list of
    # values, so that the files are read as targets).
    own, other = (str(dem_file(dest, tile).relative_to(workflow.workdir)) for tile in TILES[::3])
    result = workflow.run("--cores", "2", own, other, check=False, batch="1/2")
    assert result.returncode != 0
    message = " ".join((result.stdout + result.stderr).split())
    assert "1656X1084Y of 2023 is not among this run's tiles" in message
    assert "batch 1/2" in message and "run the batch that holds it" in message
    assert not dest.exists()
