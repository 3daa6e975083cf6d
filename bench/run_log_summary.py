"""The plan's durations from earlier runs: reading every run log (as the plan did) beside the
summary the plan now keeps, side by side in one run.

    .venv/bin/python bench/run_log_summary.py [--runs 300] [--calls 1000]

Writes ``--runs`` run logs of ``--calls`` successful DEM calls each (durations drawn with a
fixed seed) in a temporary folder, then times: reading them all (``read_run_log`` of each,
what every plan did before), the first plan (which reads them and writes the summary), and
a second plan (which reads the summary only). Prints the times, their ratio and the
summary's size.
"""

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from ttc_ard.plan import SUMMARY_NAME, ProductSettings, build_plan, read_run_log

PRODUCTS = [ProductSettings(p, "eu-central-1", "aws_lambda", 1024, 1, 9.0) for p in ("dem",)]


def write_logs(folder: Path, runs: int, calls: int) -> None:
    rng = random.Random(15)
    for run in range(runs):
        records = [
            {
                "rule": "dem",
                "backend": "aws_lambda",
                "status": "success",
                "jobid": job,
                "stats": {"worker_exec_time": rng.uniform(2, 40)},
                "reads": {"gdal": {"requests": 10, "bytes": 11_000_000}},
            }
            for job in range(calls)
        ]
        text = "\n".join(json.dumps(record) for record in records) + "\n"
        (folder / f"2026{run:010d}.jsonl").write_text(text)


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--calls", type=int, default=1000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_logs(folder, arguments.runs, arguments.calls)

        def plan():
            return build_plan(
                {"dem": 1},
                tiles=1,
                request_summary="",
                products=PRODUCTS,
                run_log_dir=folder,
                price_per_gb_second=0.0000166667,
                budget_usd=5,
            )

        every_log, _ = timed(lambda: [read_run_log(p) for p in sorted(folder.glob("*.jsonl"))])
        first, _ = timed(plan)
        again, result = timed(plan)
        size_kb = (folder / SUMMARY_NAME).stat().st_size / 1000
    (dem,) = result.products
    print(f"{arguments.runs} run logs of {arguments.calls} calls")
    print(f"  reading every log (each plan before): {every_log:.2f} s")
    print(f"  first plan, writing the summary:      {first:.2f} s")
    print(f"  later plans, from the summary:        {again:.3f} s ({every_log / again:.0f}x less)")
    print(f"  summary {size_kb:.0f} kB; {dem.seconds_source}: {dem.seconds_per_job:.1f} s")


if __name__ == "__main__":
    main()
