"""Large requests: one plan holds at most max_plan_tiles tiles, and a request beyond that runs
in Snakemake's own batches of the ard target, each planning and building its share."""

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
    assert "snakemake --batch ard=i/2 ard for i = 1, 2 ... 2" in message
    assert not (workflow.workdir / "results/ard").exists()


def test_batches_build_their_share_each_and_together_the_whole_request(workflow):
    dest = workflow.workdir / "results/ard"
    # The last batch refuses to run before the others are done (Snakemake's own check).
    early = workflow.run("-n", "--batch", "ard=2/2", "ard", check=False, max_plan_tiles=2)
    assert early.returncode != 0 and "not all previous batches" in early.stdout + early.stderr

    first = workflow.run("--batch", "ard=1/2", "ard", max_plan_tiles=2)
    assert "Batch 1/2: 2 of these tiles." in first.stderr
    assert jobs_run(first.stdout + first.stderr, "dem") == 2
    assert sum(dem_file(dest, tile).exists() for tile in TILES) == 2

    last = workflow.run("--batch", "ard=2/2", "ard", max_plan_tiles=2)
    assert jobs_run(last.stdout + last.stderr, "dem") == 2
    assert all(dem_file(dest, tile).exists() for tile in TILES)
    # Together they are the whole request: nothing left to build.
    again = workflow.run("-n", "ard")
    assert "Nothing to be done" in again.stdout + again.stderr
