"""The plan and cost preview: arithmetic, durations from earlier runs, the printed plan."""

import json
import os

import pytest

from ttc_ard.plan import (
    SUMMARY_NAME,
    ProductSettings,
    build_plan,
    estimate_cost,
    plan_file,
    planned_cost,
    read_run_log,
    write_plan,
)

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
    plan = plan_for({"dem": 100}, 100, tmp_path, 0.01)
    (dem,) = plan.products
    assert dem.seconds_per_job == 4.0
    assert dem.seconds_source == "median of 3 earlier aws_lambda call(s)"
    assert plan.over_budget  # 100 x 4 s x 4 GB x price = $0.027


def test_an_even_number_of_calls_gives_the_mean_of_the_middle_two(tmp_path):
    records = [call("dem", "aws_lambda", "success", s) for s in (2.04, 3.96, 9.0, 1.0)]
    (tmp_path / "run1.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (dem,) = plan_for({"dem": 1}, 1, tmp_path, 5).products
    assert dem.seconds_per_job == pytest.approx(3.0)  # (2.0 + 4.0) / 2, in 0.1 s bins


def test_the_plan_reads_a_run_log_again_only_once_it_changed(tmp_path):
    """Durations come from the summary beside the logs: a log is read again when its size or
    modification time changes, not at every plan (hundreds of runs took seconds to read)."""
    log = tmp_path / "run1.jsonl"
    log.write_text(json.dumps(call("dem", "aws_lambda", "success", 4.0)) + "\n")
    assert plan_for({"dem": 1}, 1, tmp_path, 5).products[0].seconds_per_job == 4.0
    assert (tmp_path / SUMMARY_NAME).exists()
    # Same size and time, other content: the summary answers, the log is not read.
    stat = log.stat()
    log.write_text(json.dumps(call("dem", "aws_lambda", "success", 7.0)) + "\n")
    os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert plan_for({"dem": 1}, 1, tmp_path, 5).products[0].seconds_per_job == 4.0
    # A call appended: read again.
    with log.open("a") as appended:
        appended.write(json.dumps(call("dem", "aws_lambda", "success", 9.0)) + "\n")
    (dem,) = plan_for({"dem": 1}, 1, tmp_path, 5).products
    assert (dem.seconds_per_job, dem.seconds_source) == (
        8.0,
        "median of 2 earlier aws_lambda call(s)",
    )
    # A log removed leaves the summary too.
    log.unlink()
    assert plan_for({"dem": 1}, 1, tmp_path, 5).products[0].seconds_source == "config default"
    assert json.loads((tmp_path / SUMMARY_NAME).read_text())["logs"] == {}


def test_a_damaged_summary_is_made_again(tmp_path):
    (tmp_path / "run1.jsonl").write_text(json.dumps(call("dem", "aws_lambda", "success", 4.0)))
    (tmp_path / SUMMARY_NAME).write_text('{"logs": {"run1.jsonl": ')
    assert plan_for({"dem": 1}, 1, tmp_path, 5).products[0].seconds_per_job == 4.0
    assert "run1.jsonl" in json.loads((tmp_path / SUMMARY_NAME).read_text())["logs"]


def test_damaged_lines_of_a_run_log_are_skipped_and_counted(tmp_path):
    # A whole call, a line cut short by a killed run, bytes that are not UTF-8, a blank line,
    # a JSON value that is no record, and a last call cut short too.
    good = json.dumps(call("dem", "aws_lambda", "success", 3.0)).encode()
    log = tmp_path / "20240101T000000Z-killed.jsonl"
    log.write_bytes(good + b'\n{"rule": "dem", "sta\n\xff\xfe\x00 not text\n\n42\n' + good[:20])
    run_log = read_run_log(log)
    assert run_log.attempts == [json.loads(good)]
    assert run_log.damaged_lines == 4
    assert run_log.damage_warning().startswith(f"Skipped 4 damaged line(s) of the run log {log}")


def test_a_whole_run_log_gives_no_warning(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(json.dumps(call("dem", "aws_lambda", "success", 3.0)) + "\n\n")
    run_log = read_run_log(log)
    assert (len(run_log.attempts), run_log.damaged_lines) == (1, 0)
    assert run_log.damage_warning() is None


def test_the_plan_warns_once_per_damaged_log_and_keeps_its_whole_calls(tmp_path):
    good = json.dumps(call("dem", "aws_lambda", "success", 3.0))
    (tmp_path / "run1.jsonl").write_text(f"{good}\n{good[:10]}\n{good[:5]}")
    (tmp_path / "run2.jsonl").write_text(f"{good}\n")
    plan = plan_for({"dem": 10}, 10, tmp_path, 5)
    (warning,) = plan.run_log_warnings
    assert f"Skipped 2 damaged line(s) of the run log {tmp_path / 'run1.jsonl'}" in warning
    assert plan.products[0].seconds_source == "median of 2 earlier aws_lambda call(s)"


def test_the_plan_handed_to_the_executor_gives_back_its_estimate(tmp_path):
    aux = tmp_path / ".snakemake" / "auxiliary"
    aux.mkdir(parents=True)
    plan = plan_for({"dem": 3}, 10, tmp_path, 5)
    assert planned_cost(plan_file(aux)) is None  # no plan handed over (a run with --no-hooks)
    write_plan(plan, plan_file(aux))
    assert plan_file(aux).parent == aux
    assert planned_cost(plan_file(aux)) == plan.cost_usd
    written = json.loads(plan_file(aux).read_text())
    assert written["products"][0]["memory_mb"] == 4096 and written["budget_usd"] == 5
