"""The run log: one JSON-lines file per run, one line per call attempt, with its job, its
outcome and the Lithops stats. The plan reads earlier runs' logs for durations, and the
reports (ttc_ard.reports) are built from it."""

import json
from pathlib import Path

from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo

from snakemake_executor_plugin_lithops.call_options import CallOptions, job_spec
from snakemake_executor_plugin_lithops.outcomes import call_status, traceback_tail


def attempt_record(
    info: SubmittedJobInfo,
    options: CallOptions,
    *,
    run_id: str,
    result,
    error: BaseException | None,
    final: bool,
    settled: float,
) -> dict:
    """The run-log line of the attempt ``info.aux["attempt"]`` of ``info``'s job, which ended
    with ``result`` or ``error``; ``final`` when no retry follows, ``settled`` when the
    executor learned the outcome (epoch seconds, like Lithops' timestamps)."""
    job = info.job
    spec = job_spec(job)
    # A job failed before its call started (attempt 0) has no call: no backend, nothing measured.
    future, fexec = info.aux.get("future"), info.aux.get("fexec")
    return {
        "run_id": run_id,
        "jobid": job.jobid,
        "rule": job.name,
        "wildcards": dict(job.wildcards.items()),
        "tile": spec.get("tile"),
        "outputs": list(spec["outputs"].values()),
        "region": options.region,
        "memory_mb": options.memory_mb,
        "backend": fexec and fexec.backend,
        "call": info.external_jobid,
        "attempt": info.aux["attempt"],
        "final": final,
        "settled": round(settled, 3),
        "status": call_status(error),
        "reason": getattr(error, "reason", None),
        "error": None if error is None else f"{type(error).__name__}: {error}",
        "traceback_tail": None if error is None else traceback_tail(error),
        "result": result,
        # What a failed call read before its error (loaders.jobs.run_job): paid for as well.
        "failed_reads": getattr(error, "reads", None),
        "stats": {k: v for k, v in future.stats.items() if is_number(v)} if future else {},
    }


def append_record(run_log: Path, record: dict) -> None:
    """Append ``record`` to the run log ``run_log`` as one line, creating its folder."""
    run_log.parent.mkdir(parents=True, exist_ok=True)
    with open(run_log, "a") as log:
        log.write(json.dumps(record, sort_keys=True) + "\n")


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
