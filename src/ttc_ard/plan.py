"""The plan and cost preview of a run, from Snakemake's own job counts.

Snakemake logs a RUN_INFO record with the jobs it will run per rule, in dry and real runs
alike, before anything is scheduled. :class:`PlanLogHandler`, attached to its logger while the
workflow is parsed, turns that record into a :class:`Plan`: per product, jobs to run, outputs
present, region, memory and the Lambda cost estimate, which the workflow's ``onstart`` hook
checks against the budget before any job starts, then writes to :func:`plan_file` for the
executor's report of the run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from snakemake_interface_logger_plugins.common import LogEvent

from loaders.ard_io import replace_atomically


@dataclass(frozen=True)
class ProductSettings:
    """What the plan needs to know of one product, from the config."""

    product: str
    region: str
    backend: str
    memory_mb: int
    files_per_tile: int
    default_seconds: float


@dataclass(frozen=True)
class ProductPlan:
    product: str
    region: str
    backend: str
    memory_mb: int
    jobs: int
    """Jobs Snakemake will run (tiles whose outputs are missing or outdated)."""
    outputs_present: int
    seconds_per_job: float
    seconds_source: str
    """Where ``seconds_per_job`` comes from: the config default or earlier runs."""
    cost_usd: float


@dataclass(frozen=True)
class Plan:
    tiles: int
    request_summary: str
    products: tuple[ProductPlan, ...]
    price_per_gb_second: float
    budget_usd: float
    run_log_warnings: tuple[str, ...] = ()
    """About damaged lines skipped in the earlier runs' logs, one per log."""

    @property
    def cost_usd(self) -> float:
        return sum(product.cost_usd for product in self.products)

    @property
    def over_budget(self) -> bool:
        return self.cost_usd > self.budget_usd

    def text(self) -> str:
        """The plan as a person reads it before approving the run."""
        lines = [
            "Plan",
            f"  {self.request_summary}",
            f"  {'product':<8} {'jobs':>7} {'present':>8}  {'region':<13} {'memory':>7}"
            f"  {'s/job':>6}  {'cost':>9}  duration from",
        ]
        for p in self.products:
            lines.append(
                f"  {p.product:<8} {p.jobs:>7} {p.outputs_present:>8}  {p.region:<13} "
                f"{p.memory_mb:>4} MB  {p.seconds_per_job:>6.1f}  {'$' + usd(p.cost_usd):>9}  "
                f"{p.seconds_source}"
            )
        lines.append(
            f"Estimated cost: ${usd(self.cost_usd)} (budget ${usd(self.budget_usd)}); Lambda at "
            f"${self.price_per_gb_second:.8f} per GB-second, whatever the backend of this run"
        )
        return "\n".join(lines)


def plan_file(aux_path: str | Path) -> Path:
    """Where a real run's ``onstart`` hook leaves the plan it checked, for the executor: in
    Snakemake's auxiliary folder of the working directory (``workflow.persistence.aux_path``),
    which the workflow and the executor plugin both get from Snakemake and which Snakemake's
    lock keeps to one run at a time."""
    return Path(aux_path) / "ttc_ard_plan.json"


def write_plan(plan: Plan, path: Path) -> None:
    """Write ``plan`` to ``path`` as JSON: its products, its budget and its estimated cost."""
    path.write_text(json.dumps(asdict(plan) | {"cost_usd": plan.cost_usd}, indent=2) + "\n")


def planned_cost(path: Path) -> float | None:
    """The estimated cost of the plan written to ``path``; None when no plan was written (a
    run with --no-hooks neither checks its plan nor hands it over)."""
    try:
        return json.loads(path.read_text())["cost_usd"]
    except FileNotFoundError:
        return None


def usd(amount: float) -> str:
    """Dollars with cents, or with four decimals below a dollar, where cents hide the amount."""
    return f"{amount:.2f}" if amount >= 1 else f"{amount:.4f}"


def estimate_cost(jobs: int, seconds: float, memory_mb: int, price_per_gb_second: float) -> float:
    """Lambda cost of ``jobs`` calls of ``seconds`` each at ``memory_mb``."""
    return jobs * seconds * (memory_mb / 1024) * price_per_gb_second


@dataclass(frozen=True)
class RunLog:
    """One run log as read: its call attempts, in the order they settled, and how many of its
    lines were skipped as damaged."""

    path: Path
    attempts: list[dict]
    damaged_lines: int

    def damage_warning(self) -> str | None:
        """What a person should know of the skipped lines; None when there are none."""
        return damage_warning(self.path, self.damaged_lines) if self.damaged_lines else None


def damage_warning(path: Path, damaged_lines: int) -> str:
    """What a person should know of the damaged lines skipped in the run log ``path``."""
    return (
        f"Skipped {damaged_lines} damaged line(s) of the run log {path}: they are not JSON "
        "records, as a run killed or a disk filled mid-write leaves them. The log's other "
        "lines are used; delete the damaged ones (or the file) to silence this warning."
    )


def read_run_log(path: Path) -> RunLog:
    """The call attempts of the run log ``path``, one JSON object per line.

    A damaged line (cut short by a killed run, not UTF-8, not an object) is counted and
    skipped rather than raised: the plan and the reports are read from these logs, and one bad
    line must not stop a run nor hide the other calls. Blank lines are no damage.
    """
    attempts, damaged = [], 0
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            attempt = json.loads(line.decode("utf-8"))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            attempt = None
        if isinstance(attempt, dict):
            attempts.append(attempt)
        else:
            damaged += 1
    return RunLog(path, attempts, damaged)


#: The summary of the run logs, beside them: per log (by name, with the size and modification
#: time it had when read) its damaged lines and its successful calls' durations by product and
#: backend, counted in bins of 0.1 s. A plan reads again only the logs that changed, so
#: planning stays quick with hundreds of earlier runs.
SUMMARY_NAME = "durations.json"


def duration_counts(log: RunLog) -> dict[str, dict[str, int]]:
    """Successful calls of ``log`` by ``"<product> <backend>"``: how many took each duration,
    in seconds rounded to 0.1 (as text, JSON's keys)."""
    counts: dict[str, dict[str, int]] = {}
    for attempt in log.attempts:
        seconds = attempt.get("stats", {}).get("worker_exec_time")
        if attempt.get("status") != "success" or not isinstance(seconds, int | float):
            continue
        bins = counts.setdefault(f"{attempt.get('rule')} {attempt.get('backend')}", {})
        key = f"{seconds:.1f}"
        bins[key] = bins.get(key, 0) + 1
    return counts


def summarised_run_logs(run_log_dir: Path) -> dict[str, dict]:
    """Each run log's summary (see :data:`SUMMARY_NAME`) by file name, reading only the logs
    not summarised as they are now, and saving the summary when it changed. A summary that
    cannot be read is made again; one that cannot be written is only not saved."""
    summary_path = run_log_dir / SUMMARY_NAME
    try:
        saved = json.loads(summary_path.read_text())["logs"]
    except (OSError, ValueError, KeyError, TypeError):
        saved = {}
    summaries = {}
    for path in sorted(run_log_dir.glob("*.jsonl")):
        stat = path.stat()  # before the read: a log growing meanwhile is read again next time
        entry = saved.get(path.name)
        if not (
            isinstance(entry, dict)
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
        ):
            log = read_run_log(path)
            entry = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "damaged_lines": log.damaged_lines,
                "seconds": duration_counts(log),
            }
        summaries[path.name] = entry
    if summaries != saved:
        text = json.dumps({"logs": summaries}, sort_keys=True)
        with contextlib.suppress(OSError):
            replace_atomically(summary_path, lambda tmp: Path(tmp).write_text(text))
    return summaries


def median_of_counts(counts: dict[float, int]) -> float:
    """The median of the values ``counts`` holds, each as many times as its count."""
    values = np.fromiter(counts, dtype=np.float64, count=len(counts))
    return float(np.median(np.repeat(values, list(counts.values()))))


def build_plan(
    stats: dict[str, int],
    *,
    tiles: int,
    request_summary: str,
    products: list[ProductSettings],
    run_log_dir: Path,
    price_per_gb_second: float,
    budget_usd: float,
) -> Plan:
    """The plan for the job counts ``stats`` (rule -> jobs) of Snakemake's RUN_INFO."""
    earlier_runs = summarised_run_logs(run_log_dir)
    planned = []
    for settings in products:
        jobs = stats.get(settings.product, 0)
        history: dict[float, int] = {}
        for summary in earlier_runs.values():
            bins = summary["seconds"].get(f"{settings.product} {settings.backend}", {})
            for seconds, count in bins.items():
                history[float(seconds)] = history.get(float(seconds), 0) + count
        if history:
            seconds = median_of_counts(history)
            calls = sum(history.values())
            source = f"median of {calls} earlier {settings.backend} call(s)"
        else:
            seconds, source = settings.default_seconds, "config default"
        planned.append(
            ProductPlan(
                product=settings.product,
                region=settings.region,
                backend=settings.backend,
                memory_mb=settings.memory_mb,
                jobs=jobs,
                outputs_present=(tiles - jobs) * settings.files_per_tile,
                seconds_per_job=seconds,
                seconds_source=source,
                cost_usd=estimate_cost(jobs, seconds, settings.memory_mb, price_per_gb_second),
            )
        )
    warnings = tuple(
        damage_warning(run_log_dir / name, summary["damaged_lines"])
        for name, summary in earlier_runs.items()
        if summary["damaged_lines"]
    )
    return Plan(tiles, request_summary, tuple(planned), price_per_gb_second, budget_usd, warnings)


class PlanLogHandler(logging.Handler):
    """Builds and prints the plan from the first RUN_INFO record Snakemake logs.

    A plain handler on Snakemake's logger is called in the logging thread itself, so the plan
    exists before the ``onstart`` hook runs, unlike logger plugins, which are fed through a queue.
    """

    def __init__(self, **plan_arguments):
        super().__init__(level=logging.INFO)
        self.plan_arguments = plan_arguments
        self.plan: Plan | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.plan is not None or getattr(record, "event", None) != LogEvent.RUN_INFO:
            return
        try:
            self.plan = build_plan(record.stats, **self.plan_arguments)
            for warning in self.plan.run_log_warnings:
                print(warning, file=sys.stderr)
            print(self.plan.text(), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)
