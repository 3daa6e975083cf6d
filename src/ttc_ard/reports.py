"""Job reports and plots of one run, from its run log (one JSON line per call attempt).

Everything is written under a folder named after the run id, so earlier runs' reports stay.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from loaders import qa  # noqa: E402
from loaders.ard_io import replace_atomically  # noqa: E402
from ttc_ard.plan import read_run_log  # noqa: E402
from ttc_ard.request import CSV_COLUMNS  # noqa: E402

#: Columns of the CSV summary: the job records without their nested parts.
SUMMARY_COLUMNS = [
    "job_id", "product", "region", "backend", "tile", "status", "reason", "attempts",
    "submitted", "start", "end", "duration_s", "peak_memory_mb", "memory_mb", "read_requests",
    "read_mb", "read_wait_s", "error",
]  # fmt: skip
STATUS_COLOURS = {
    "success": "tab:green",
    "failed": "tab:orange",
    "error": "tab:red",
    "cancelled": "tab:purple",
}
FAILURES_LISTED = 20
#: How the reports name the clients of a job's reads (loaders.accounting).
READ_CLIENTS = {"gdal": "GDAL", "boto3": "boto3", "stac": "STAC"}


def calls_made(attempts: list[dict]) -> int:
    """How many of ``attempts`` started a call: a job held back by the executor (once the
    destination refused an output) is logged as attempt 0."""
    return sum(1 for attempt in attempts if attempt["attempt"] > 0)


def job_records(attempts: list[dict]) -> list[dict]:
    """One record per job: its last attempt, with the number of calls it took."""
    by_job: dict[int, list[dict]] = defaultdict(list)
    for attempt in attempts:
        by_job[attempt["jobid"]].append(attempt)
    records = []
    for job_id, tries in sorted(by_job.items()):
        last, stats = tries[-1], tries[-1].get("stats", {})
        reads = (last.get("result") or {}).get("reads")
        tile = last.get("tile") or {}
        peak = max(stats.get("worker_peak_memory_start", 0), stats.get("worker_peak_memory_end", 0))
        records.append(
            {
                "job_id": job_id,
                "product": last["rule"],
                "region": last["region"],
                "backend": last["backend"],
                "tile": f"{tile.get('x_tile')}X{tile.get('y_tile')}Y",
                "tile_fields": tile,
                "status": last["status"],
                "reason": last.get("reason"),
                "attempts": calls_made(tries),
                "submitted": stats.get("host_submit_tstamp"),
                "start": stats.get("worker_start_tstamp"),
                "end": stats.get("worker_end_tstamp"),
                "duration_s": stats.get("worker_exec_time"),
                "peak_memory_mb": round(peak / 2**20, 1) if peak else None,
                "memory_mb": last["memory_mb"],
                "error": last.get("error"),
                "traceback_tail": last.get("traceback_tail"),
                "qa": (last.get("result") or {}).get("qa"),
                "reads": reads,
                "read_requests": reads and reads["requests"],
                "read_mb": reads and round(reads["bytes"] / 1e6, 3),
                "read_wait_s": reads and reads["wait_seconds"],
                "stats": stats,
            }
        )
    return records


def measured_cost(attempts: list[dict], price_per_gb_second: float) -> tuple[float, float]:
    """GB-seconds of every attempt (failed ones are billed too) and their Lambda cost."""
    gb_seconds = sum(
        a.get("stats", {}).get("worker_exec_time", 0) * a["memory_mb"] / 1024 for a in attempts
    )
    return gb_seconds, gb_seconds * price_per_gb_second


def summary_text(
    run_id: str, records: list[dict], attempts: list[dict], price: float, estimate: float | None
) -> str:
    """The text report: totals, success per product and region, durations, cost, failures."""
    counts = defaultdict(int)
    for record in records:
        counts[record["status"]] += 1
    lines = [
        f"ttc-ard run {run_id}",
        f"jobs: {len(records)} ("
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f"), call attempts: {calls_made(attempts)}",
        "",
        "success per product and region:",
    ]
    groups = defaultdict(list)
    for record in records:
        groups[(record["product"], record["region"])].append(record["status"] == "success")
    for (product, region), outcomes in sorted(groups.items()):
        lines.append(
            f"  {product:<6} {region:<13} {sum(outcomes)}/{len(outcomes)} "
            f"({100 * sum(outcomes) / len(outcomes):.0f} %)"
        )
    lines += ["", "durations of successful calls (s): min / median / max"]
    by_product = defaultdict(list)
    for record in records:
        if record["status"] == "success" and record["duration_s"] is not None:
            by_product[record["product"]].append(record["duration_s"])
    for product, seconds in sorted(by_product.items()):
        lines.append(
            f"  {product:<6} {min(seconds):.2f} / {statistics.median(seconds):.2f} / "
            f"{max(seconds):.2f}"
        )
    lines += read_lines(records)
    lines += failed_read_lines(attempts)
    lines += qa_lines(records)
    gb_seconds, cost = measured_cost(attempts, price)
    estimated = "not available" if estimate is None else f"${estimate:.4f}"
    lines += [
        "",
        f"cost: measured ${cost:.4f} ({gb_seconds:.1f} GB-s at ${price:.8f}/GB-s, all attempts); "
        f"estimated before the run {estimated}",
    ]
    failures = [r for r in records if r["status"] != "success"]
    if failures:
        lines += ["", f"failures (first {min(len(failures), FAILURES_LISTED)} of {len(failures)}):"]
        for record in failures[:FAILURES_LISTED]:
            lines.append(
                f"  {record['product']} {record['tile']}: {record['status']}"
                f"{' (' + record['reason'] + ')' if record['reason'] else ''}, "
                f"{record['attempts']} attempt(s): {record['error']}"
            )
    return "\n".join(lines) + "\n"


def read_lines(records: list[dict]) -> list[str]:
    """Per product, what the source reads of its successful calls cost (from the ``reads`` of
    their results, :mod:`loaders.accounting`): the median and total of the HTTP requests, MB
    downloaded, seconds with a read in progress and STAC search pages, and the requests of each
    client in total."""
    by_product = defaultdict(list)
    for record in records:
        if record["status"] == "success" and record.get("reads"):
            by_product[record["product"]].append(record["reads"])
    if not by_product:
        return []
    lines = [
        "",
        "source reads of successful calls: median / total (GDAL counts a parallel multi-range "
        "read of one file as one request)",
    ]
    for product, reads in sorted(by_product.items()):
        figures = {
            "requests": ([r["requests"] for r in reads], "{:.0f}"),
            "MB": ([r["bytes"] / 1e6 for r in reads], "{:.1f}"),
            "wait s": ([r["wait_seconds"] for r in reads], "{:.1f}"),
            "search pages": ([r["searches"] for r in reads], "{:.0f}"),
        }
        lines.append(
            f"  {product:<6} {len(reads)} call(s): "
            + ", ".join(
                f"{name} {form.format(statistics.median(values))} / {form.format(sum(values))}"
                for name, (values, form) in figures.items()
            )
        )
        lines.append(f"         requests by client, total: {client_totals(reads)}")
    return lines


def failed_read_lines(attempts: list[dict]) -> list[str]:
    """Per product, what the failed call attempts read before their errors (retried ones
    included): they are billed like the others."""
    by_product = defaultdict(list)
    for attempt in attempts:
        if attempt.get("failed_reads"):
            by_product[attempt["rule"]].append(attempt["failed_reads"])
    if not by_product:
        return []
    lines = ["", "source reads of failed call attempts, total:"]
    for product, reads in sorted(by_product.items()):
        lines.append(
            f"  {product:<6} {len(reads)} attempt(s): "
            f"requests {sum(r['requests'] for r in reads)}, "
            f"MB {sum(r['bytes'] for r in reads) / 1e6:.1f}, "
            f"wait s {sum(r['wait_seconds'] for r in reads):.1f}"
        )
    return lines


def client_totals(reads: list[dict]) -> str:
    """Each client's requests summed over ``reads``; GDAL's with the calls where its counters
    were not found (its requests then are in no total)."""
    parts = []
    for client, name in READ_CLIENTS.items():
        counted = [r["by_client"][client] for r in reads if r["by_client"].get(client)]
        part = f"{name} {sum(c['requests'] for c in counted)}"
        if missing := len(reads) - len(counted):
            part += f" (not counted in {missing} call(s))"
        parts.append(part)
    return ", ".join(parts)


#: A tile whose outputs have more pixels than this that no scene covered is flagged.
MAX_NODATA_FRACTION = 0.05


def qa_lines(records: list[dict]) -> list[str]:
    """From the QA summaries in the run log (:func:`loaders.qa.summary`), per product: the
    spread of the tiles' typical values and the tiles that look wrong: constant over the whole
    tile, or far outside the other tiles of the run (beyond 3 interquartile ranges from the
    quartiles, with at least 4 tiles to compare); and, where a loader records them, scenes
    whose metadata disagreed with their pixels and outputs with many pixels no scene
    covered."""
    by_product = defaultdict(list)
    for record in records:
        if record.get("qa"):
            by_product[record["product"]].append((record["tile"], record["qa"]))
    lines = []
    for product, tiles in sorted(by_product.items()):
        typical = [summary[qa.TYPICAL] for _, summary in tiles]
        lines += [
            "",
            f"data quality, {product}: {len(tiles)} tile(s), typical value min / median / max "
            f"{min(typical):.2f} / {statistics.median(typical):.2f} / {max(typical):.2f}",
        ]
        flags = [
            f"{tile}: every value is the same" for tile, summary in tiles if summary[qa.CONSTANT]
        ]
        if len(typical) >= 4:
            q1, _, q3 = statistics.quantiles(typical, n=4)
            low, high = q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1)
            flags += [
                f"{tile}: typical value {summary[qa.TYPICAL]:.2f} outside the run's "
                f"{low:.2f} to {high:.2f}"
                for tile, summary in tiles
                if not low <= summary[qa.TYPICAL] <= high
            ]
        flags += [
            f"{tile}: {summary[qa.OFFSET_DISAGREEMENTS]} scene(s) whose metadata disagreed with "
            "their pixels about the +1000 DN offset (see the tile's QA record)"
            for tile, summary in tiles
            if summary.get(qa.OFFSET_DISAGREEMENTS)
        ]
        flags += [
            f"{tile}: {summary[qa.NODATA_FRACTION]:.0%} of the pixels covered by no scene"
            for tile, summary in tiles
            if summary.get(qa.NODATA_FRACTION, 0) > MAX_NODATA_FRACTION
        ]
        lines += [f"  flagged {flag}" for flag in flags] or ["  nothing flagged"]
    return lines


def failed_tiles(records: list[dict]) -> pd.DataFrame:
    """The tiles of jobs that did not succeed, in the tiles-CSV format, once each."""
    rows = [
        {
            "Year": r["tile_fields"]["year"],
            "X": r["tile_fields"]["lon"],
            "Y": r["tile_fields"]["lat"],
            "Y_tile": r["tile_fields"]["y_tile"],
            "X_tile": r["tile_fields"]["x_tile"],
        }
        for r in records
        if r["status"] != "success" and r["tile_fields"]
    ]
    return pd.DataFrame(rows, columns=CSV_COLUMNS).drop_duplicates().reset_index(drop=True)


def timeline_figure(records: list[dict], region: str) -> Figure:
    """One bar per job of ``region``: submit -> start (grey) and start -> end (by status)."""
    jobs = sorted(
        (r for r in records if r["region"] == region and r["start"] is not None),
        key=lambda r: (r["submitted"] or r["start"], r["job_id"]),
    )
    figure, axes = plt.subplots(figsize=(10, 1 + 0.25 * max(len(jobs), 1)))
    origin = min((r["submitted"] or r["start"] for r in jobs), default=0)
    for row, record in enumerate(jobs):
        submitted = (record["submitted"] or record["start"]) - origin
        start, end = record["start"] - origin, record["end"] - origin
        axes.barh(row, start - submitted, left=submitted, color="lightgrey")
        axes.barh(row, end - start, left=start, color=STATUS_COLOURS.get(record["status"]))
    axes.set_yticks(range(len(jobs)), [f"{r['product']} {r['tile']}" for r in jobs], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the first submission")
    axes.set_title(f"{region}: waiting (grey) and running, by status")
    figure.tight_layout()
    return figure


def durations_figure(records: list[dict], product: str) -> Figure:
    """Histogram of the durations of a product's successful calls."""
    seconds = [
        r["duration_s"]
        for r in records
        if r["product"] == product and r["status"] == "success" and r["duration_s"] is not None
    ]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.hist(seconds, bins=min(30, max(len(seconds), 1)), color="tab:blue")
    axes.set_xlabel("call duration (s)")
    axes.set_ylabel("calls")
    axes.set_title(f"{product}: {len(seconds)} successful call(s)")
    figure.tight_layout()
    return figure


def write_reports(
    run_log: Path,
    run_id: str,
    report_dir: Path,
    plot_dir: Path,
    price_per_gb_second: float,
    estimate_usd: float | None = None,
) -> Path | None:
    """Write the run's reports and plots; returns the report folder, or None without calls."""
    if not run_log.exists():
        return None
    log = read_run_log(run_log)
    if log.damaged_lines:
        print(log.damage_warning(), file=sys.stderr)
    attempts = log.attempts
    if not attempts:
        return None
    records = job_records(attempts)
    folder, plots = report_dir / run_id, plot_dir / run_id

    def text(path: Path, content: str) -> None:
        replace_atomically(path, lambda tmp: Path(tmp).write_text(content))

    text(folder / "jobs.json", json.dumps(records, indent=1, sort_keys=True) + "\n")
    failures = [r for r in records if r["status"] != "success"]
    text(folder / "failed_jobs.json", json.dumps(failures, indent=1, sort_keys=True) + "\n")
    text(folder / "summary.csv", pd.DataFrame(records, columns=SUMMARY_COLUMNS).to_csv(index=False))
    text(folder / "failed_tiles.csv", failed_tiles(records).to_csv(index=False))
    summary = summary_text(run_id, records, attempts, price_per_gb_second, estimate_usd)
    text(folder / "report.txt", summary)
    for region in sorted({r["region"] for r in records}):
        save(timeline_figure(records, region), plots / f"timeline_{region}.png")
    for product in sorted({r["product"] for r in records}):
        save(durations_figure(records, product), plots / f"durations_{product}.png")
    return folder


def save(figure: Figure, path: Path) -> None:
    replace_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)
