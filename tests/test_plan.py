"""The plan and cost preview: arithmetic, durations from earlier runs, the printed plan."""

import json

import pytest

from ttc_ard.plan import ProductSettings, build_plan, estimate_cost, recorded_seconds

DEM = ProductSettings("dem", "eu-central-1", "aws_lambda", 4096, 1, 9.0)


def call(rule, backend, status, seconds):
    return {
        "rule": rule,
        "backend": backend,
        "status": status,
        "stats": {"worker_exec_time": seconds},
    }


def plan_for(stats: dict, tiles: int, run_log_dir, budget_usd: float):
    return build_plan(
        stats,
        tiles=tiles,
        request_summary=f"Request: {tiles} valid",
        products=[DEM],
        run_log_dir=run_log_dir,
        price_per_gb_second=0.00001667,
        budget_usd=budget_usd,
    )


def test_estimate_is_jobs_times_seconds_times_gigabytes_times_price():
    # The old pipeline's figures: 1,000 DEM tiles of 9 s at 4096 MB.
    assert estimate_cost(1000, 9, 4096, 0.00001667) == pytest.approx(0.60012)
    assert estimate_cost(0, 9, 4096, 0.00001667) == 0


def test_plan_counts_jobs_and_present_outputs(tmp_path):
    plan = plan_for({"dem": 3, "tiles_csv": 1, "all": 1, "total": 5}, 10, tmp_path, 5)
    (dem,) = plan.products
    assert (dem.jobs, dem.outputs_present, dem.seconds_per_job) == (3, 7, 9.0)
    assert dem.seconds_source == "config default"
    assert plan.cost_usd == pytest.approx(3 * 9 * 4 * 0.00001667)
    assert not plan.over_budget
    assert "Estimated cost: $0.0018 (budget $5.00)" in plan.text()


def test_earlier_runs_on_the_same_backend_replace_the_default(tmp_path):
    records = [
        call("dem", "aws_lambda", "success", 2.0),
        call("dem", "aws_lambda", "success", 4.0),
        call("dem", "aws_lambda", "success", 30.0),
        call("dem", "aws_lambda", "error", 500.0),  # failures do not count
        call("dem", "localhost", "success", 0.1),  # another backend
        call("s2", "aws_lambda", "success", 60.0),  # another product
    ]
    (tmp_path / "run1.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert sorted(recorded_seconds(tmp_path, "dem", "aws_lambda")) == [2.0, 4.0, 30.0]
    plan = plan_for({"dem": 100}, 100, tmp_path, 0.01)
    (dem,) = plan.products
    assert dem.seconds_per_job == 4.0
    assert dem.seconds_source == "median of 3 earlier aws_lambda call(s)"
    assert plan.over_budget  # 100 x 4 s x 4 GB x price = $0.027
