"""The run log: one record per call attempt, appended as one JSON line, read back as the plan
and the reports read it."""

import json
import pickle
from types import SimpleNamespace

from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo

from loaders.errors import DestinationWriteError, SourceAccessError, TileDataError
from snakemake_executor_plugin_lithops.call_options import CallOptions, LoaderSpecs
from snakemake_executor_plugin_lithops.run_log import append_record, attempt_record
from ttc_ard.plan import read_run_log
from ttc_ard.reports import job_records, summary_text

OPTIONS = CallOptions("eu-central-1", "config/lithops/localhost.yaml", 3072, 3)
TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}
DEM = "/ard/2023/raw/1655/1083/raw/misc/dem_1655X1083Y.hkl"


def submitted(attempt: int, stats: dict | None = None) -> SubmittedJobInfo:
    """A DEM job as submitted: its call (none for attempt 0, a job failed before its call
    started) on a localhost Lithops executor, with the call's ``stats``."""
    job = SimpleNamespace(
        jobid=7,
        name="dem",
        wildcards=SimpleNamespace(items=lambda: [("year", "2023"), ("x_tile", "1655")]),
        params=SimpleNamespace(
            loader=LoaderSpecs(lambda _: {"tile": TILE, "outputs": {"dem": DEM}, "qa": "x.json"})
        ),
    )
    if attempt == 0:
        return SubmittedJobInfo(job, aux={"attempt": 0})
    future = SimpleNamespace(stats=stats or {})
    fexec = SimpleNamespace(backend="localhost")
    return SubmittedJobInfo(
        job,
        external_jobid="a1b2/M000/00000",
        aux={"attempt": attempt, "future": future, "fexec": fexec},
    )


def data_problem() -> TileDataError:
    try:
        raise TileDataError("missing_data", "no DEM cell under the tile")
    except TileDataError as err:
        return err


def test_a_success_records_the_job_the_call_and_its_numeric_stats():
    stats = {"worker_exec_time": 2.5, "worker_func_rss": 150, "worker_cold_start": True}
    stats |= {"host_job_create_tstamp": 1000.0, "worker_runtime": "python3.11"}
    record = attempt_record(
        submitted(1, stats),
        OPTIONS,
        run_id="run-1",
        result={"shape": [600, 600]},
        error=None,
        final=True,
        settled=1234.56789,
    )
    assert record == {
        "run_id": "run-1",
        "jobid": 7,
        "rule": "dem",
        "wildcards": {"year": "2023", "x_tile": "1655"},
        "tile": TILE,
        "outputs": [DEM],
        "region": "eu-central-1",
        "memory_mb": 3072,
        "backend": "localhost",
        "call": "a1b2/M000/00000",
        "attempt": 1,
        "final": True,
        "settled": 1234.568,
        "status": "success",
        "reason": None,
        "error": None,
        "traceback_tail": None,
        "result": {"shape": [600, 600]},
        "failed_reads": None,
        # Flags and text are no measurements.
        "stats": {
            "worker_exec_time": 2.5,
            "worker_func_rss": 150,
            "host_job_create_tstamp": 1000.0,
        },
    }


def test_a_failure_records_its_status_reason_error_and_where_it_was_raised():
    record = attempt_record(
        submitted(2), OPTIONS, run_id="r", result=None, error=data_problem(), final=False, settled=0
    )
    assert (record["status"], record["reason"], record["final"]) == (
        "failed",
        "missing_data",
        False,
    )
    assert record["error"] == "TileDataError: no DEM cell under the tile"
    assert "in data_problem" in record["traceback_tail"]


def test_a_job_failed_before_its_call_started_has_no_call_and_nothing_measured():
    refused = DestinationWriteError("Not started, the destination refused an earlier output")
    record = attempt_record(
        submitted(0), OPTIONS, run_id="r", result=None, error=refused, final=True, settled=0
    )
    assert (record["attempt"], record["backend"], record["call"]) == (0, None, None)
    assert (record["status"], record["reason"], record["stats"]) == ("error", "destination", {})


def test_records_are_appended_one_line_each_and_read_back_by_the_reports(tmp_path):
    run_log = tmp_path / "run_logs" / "run-1.jsonl"  # the folder does not exist yet
    killed = MemoryError("worker killed")
    first = attempt_record(
        submitted(1), OPTIONS, run_id="r", result=None, error=killed, final=False, settled=1
    )
    second = attempt_record(
        submitted(2, {"worker_exec_time": 2.0}),
        OPTIONS,
        run_id="r",
        result={},
        error=None,
        final=True,
        settled=2,
    )
    append_record(run_log, first)
    append_record(run_log, second)

    lines = run_log.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    read = read_run_log(run_log)
    assert (read.attempts, read.damaged_lines) == ([first, second], 0)
    (job,) = job_records(read.attempts)
    assert (job["status"], job["attempts"], job["memory_mb"]) == ("success", 2, 3072)


#: The reads of a DEM job's summary (loaders.accounting), as run_job returns them.
READS = {
    "requests": 3,
    "bytes": 230049,
    "wait_seconds": 0.41,
    "searches": 0,
    "by_client": {
        "gdal": {"requests": 3, "bytes": 230049},
        "boto3": {"requests": 0, "bytes": 0},
        "stac": {"requests": 0, "bytes": 0},
    },
}


def test_the_jobs_reads_reach_the_run_log_and_the_reports(tmp_path):
    run_log = tmp_path / "run-1.jsonl"
    summary = {"product": "dem", "seconds": 1.2, "reads": READS}
    append_record(
        run_log,
        attempt_record(
            submitted(1), OPTIONS, run_id="r", result=summary, error=None, final=True, settled=1
        ),
    )
    (record,) = read_run_log(run_log).attempts
    assert record["result"]["reads"] == READS
    (job,) = job_records([record])
    assert job["reads"] == READS
    assert (job["read_requests"], job["read_mb"], job["read_wait_s"]) == (3, 0.23, 0.41)


def test_a_refused_source_read_is_recorded_with_its_reason():
    refused = SourceAccessError("the read of s3://sentinel-s1-l1c/x.tiff was refused")
    record = attempt_record(
        submitted(1), OPTIONS, run_id="r", result=None, error=refused, final=True, settled=0
    )
    assert (record["status"], record["reason"]) == ("error", "source_access")


def test_a_failed_calls_reads_reach_the_run_log_and_the_report(tmp_path):
    error = data_problem()
    error.reads = READS  # as loaders.jobs.run_job leaves them on the error it re-raises
    # Lithops brings a worker's error back pickled.
    returned = pickle.loads(pickle.dumps(error))
    run_log = tmp_path / "run-1.jsonl"
    for attempt in (1, 2):
        append_record(
            run_log,
            attempt_record(
                submitted(attempt, {"worker_exec_time": 1.0}),
                OPTIONS,
                run_id="r",
                result=None,
                error=returned,
                final=attempt == 2,
                settled=attempt,
            ),
        )
    attempts = read_run_log(run_log).attempts
    assert [a["failed_reads"] for a in attempts] == [READS, READS]
    report = summary_text("r", job_records(attempts), attempts, price=1e-5, estimate=None)
    assert "source reads of failed call attempts" in report
    assert "dem    2 attempt(s): requests 6, MB 0.5, wait s 0.8" in report
