"""Call memory is the rules' standard ``resources: mem_mb``: ``--set-resources`` changes the
plan's estimate, the Lithops calls and the run log alike; and the run's report shows the
estimate the plan made beside the measured cost."""

import re

import pytest
from workflow_runner import Workflow, call_attempts, dem_file, jobs_run, write_request

from ttc_ard.plan import estimate_cost, plan_file, planned_cost, usd

pytestmark = pytest.mark.workflow

TILE = "1655X1083Y"
PRICE = 0.00001667  # config/config.yaml


def planned_dem(stderr: str) -> re.Match:
    """The plan's DEM line: jobs, memory, seconds per job and cost."""
    plan = stderr[stderr.index("Plan") :]
    line = re.search(
        r"^\s+dem\s+(\d+)\s+\d+\s+eu-central-1\s+(\d+) MB\s+([\d.]+)\s+\$([\d.]+)", plan, re.M
    )
    assert line, plan
    return line


@pytest.mark.parametrize(
    ("arguments", "memory_mb"),
    [
        ((), 1024),  # dem_memory_mb of config/config.yaml
        (("--set-resources", "dem:mem_mb=3072"), 3072),
        (("--set-resources", "dem:mem=4GB"), 4000),  # Snakemake's units: 1 GB = 1000 MB
        (("--resources", "mem_mb=512"), 512),  # caps every job's mem_mb
    ],
)
def test_a_dry_run_plans_the_memory_snakemake_gives_the_jobs(
    tmp_path, demo_archive, arguments, memory_mb
):
    request = write_request(tmp_path / "request.json", {"2023": [TILE]})
    dry = Workflow(tmp_path, demo_archive, request).run("-n", *arguments)
    jobs, planned_mb, seconds, cost = planned_dem(dry.stderr).groups()
    assert (jobs, planned_mb, seconds) == ("1", str(memory_mb), "9.0")  # 9 s: config default
    assert cost == usd(estimate_cost(1, 9.0, memory_mb, PRICE))
    assert f"mem_mb={memory_mb}," in dry.stdout  # the job Snakemake would run


def test_memory_out_of_lambdas_range_stops_even_a_dry_run(tmp_path, demo_archive):
    request = write_request(tmp_path / "request.json", {"2023": [TILE]})
    result = Workflow(tmp_path, demo_archive, request).run(
        "-n", "--set-resources", "dem:mem=20GB", check=False
    )
    assert result.returncode != 0
    assert "give dem calls 20000 MB of memory; Lambda allows 128 to 10240 MB" in (
        result.stdout + result.stderr
    )


def test_a_run_calls_with_the_memory_set_and_reports_the_plans_estimate(tmp_path, demo_archive):
    request = write_request(tmp_path / "request.json", {"2023": [TILE]})
    workflow = Workflow(tmp_path, demo_archive, request)
    result = workflow.run("--set-resources", "dem:mem_mb=3072")

    assert jobs_run(result.stderr, "dem") == 1 and dem_file(tmp_path / "results/ard", TILE).exists()
    (attempt,) = [a for a in call_attempts(tmp_path) if a["rule"] == "dem"]
    assert (attempt["status"], attempt["memory_mb"]) == ("success", 3072)

    # The plan that onstart checked reached the executor, whose report puts its estimate
    # beside the cost measured at the same memory.
    handed_over = planned_cost(plan_file(tmp_path / ".snakemake/auxiliary"))
    assert usd(handed_over) == planned_dem(result.stderr).group(4)
    report = (tmp_path / f"results/job_reports/{attempt['run_id']}/report.txt").read_text()
    measured = attempt["stats"]["worker_exec_time"] * 3072 / 1024 * PRICE
    assert f"cost: measured ${measured:.4f}" in report
    assert f"estimated before the run ${handed_over:.4f}" in report
