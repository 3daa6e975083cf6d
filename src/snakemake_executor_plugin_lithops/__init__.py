"""Snakemake executor plugin that runs tile jobs as Lithops calls, one ``map`` per region and
memory size.

A rule opts in with its ``loader`` and ``lithops`` params and its ``resources: mem_mb`` (see
call_options). Workers write their outputs themselves; the executor reports each call's outcome
to Snakemake, retries calls that failed for reasons other than the tile's data or a destination
refusing the outputs (see outcomes), and appends every attempt to a JSON-lines run log (see
run_log). Once the destination has refused an output, it starts and retries no further call:
the calls Lithops has queued but not started are dropped.

This module is the lifecycle: submitting, checking, cancelling, shutting down.
"""

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

import lithops
from lithops.constants import SESSION_ID_ENV as LITHOPS_SESSION_ENV
from lithops.constants import TOTAL_EXECUTORS_ENV as LITHOPS_EXECUTOR_COUNT_ENV
from lithops.wait import ALWAYS
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface
from snakemake_interface_executor_plugins.settings import CommonSettings, ExecutorSettingsBase

from loaders.ard_io import abort_unfinished_uploads, remove_partials
from loaders.errors import DestinationWriteError
from loaders.jobs import run_job
from snakemake_executor_plugin_lithops.call_options import CallOptions, call_options, job_spec
from snakemake_executor_plugin_lithops.lithops_config import load_lithops_config
from snakemake_executor_plugin_lithops.outcomes import (
    LOST_CALL_MESSAGE,
    LostCallError,
    call_lost,
    call_outcome,
    describe_error,
    should_retry,
    traceback_tail,
)
from snakemake_executor_plugin_lithops.run_log import append_record, attempt_record
from ttc_ard.plan import plan_file, planned_cost

# What Snakemake takes from this package, and what the tests of the destination use.
__all__ = [
    "Executor",
    "ExecutorSettings",
    "common_settings",
    "remove_job_leftovers",
]


@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    status_interval: float = field(
        default=1.0,
        metadata={
            "help": "Seconds between two status checks of the running Lithops calls "
            "(default 1). Raise it for runs of many thousand calls.",
            "env_var": False,
            "required": False,
        },
    )
    run_log_dir: str = field(
        default="",
        metadata={
            "help": "Folder of the run logs: one JSON-lines file per run, one line per call "
            "attempt with its result or error and the Lithops stats. Default: "
            "<report_dir>/run_logs, with report_dir from the workflow config (validated, so it "
            "always has its default).",
            "env_var": False,
            "required": False,
        },
    )


common_settings = CommonSettings(
    # Calls run in Lithops workers (local processes or Lambda), not in this process.
    non_local_exec=True,
    # Lambda workers share no file system with us; they read sources and write outputs
    # themselves, local paths for the localhost backend and s3:// keys for Lambda ...
    implies_no_shared_fs=True,
    # ... so Snakemake must neither stage files nor demand a default storage provider.
    can_transfer_local_files=True,
    # Workers run the loaders, never Snakemake: nothing to deploy or to pass on a command line.
    job_deploy_sources=False,
    pass_default_storage_provider_args=False,
    pass_default_resources_args=False,
    pass_envvar_declarations_to_cmd=False,
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=0,
)


class Executor(RemoteExecutor):
    def __post_init__(self):
        self.settings: ExecutorSettings = self.workflow.executor_settings
        self.next_seconds_between_status_checks = self.settings.status_interval
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        log_dir = self.settings.run_log_dir or os.path.join(
            self.workflow.config["report_dir"], "run_logs"
        )
        self.run_log = Path(log_dir) / f"{self.run_id}.jsonl"
        # The workflow's onstart hook writes the plan it checked there once this executor is
        # made (Snakemake makes its executor first); a plan left by an earlier run is not ours.
        self.plan_file = plan_file(self.workflow.persistence.aux_path)
        self.plan_file.unlink(missing_ok=True)
        # Lithops keeps its session id in the environment, for the processes it spawns. One
        # inherited from a parent process would give this run the parent's storage keys, and
        # the parent's cleanup would delete this run's job data: each run is its own session.
        for name in (LITHOPS_SESSION_ENV, LITHOPS_EXECUTOR_COUNT_ENV):
            os.environ.pop(name, None)
        self.function_executors: dict[str, lithops.FunctionExecutor] = {}
        # A FunctionExecutor is not thread-safe, and Snakemake submits from its main thread
        # while status checks run in another: a map during a wait once left the checking
        # thread dead and the run hanging with every call done. One call into Lithops at a time.
        self.lithops_lock = threading.Lock()
        self.cancelling = False
        # Calls submitted and not settled, by Snakemake job id. Snakemake's own list of active
        # jobs is empty while a status check runs, so cancelling cannot rely on it.
        self.unsettled: dict[int, SubmittedJobInfo] = {}
        # Set when the destination refused an output (disk full, access denied): every later
        # call would pay for its tile and be refused too, so none is started.
        self.destination_refusal: DestinationWriteError | None = None

    def run_job(self, job: JobExecutorInterface):
        self.run_jobs([job])

    def run_jobs(self, jobs: list[JobExecutorInterface]):
        batches = defaultdict(list)
        for job in jobs:
            options = call_options(job)
            batches[(options.config, options.region, options.memory_mb)].append(job)
        for (config_file, region, memory_mb), batch in batches.items():
            fexec = self.function_executor(config_file, region)
            # Under the lock from the refusal check to the calls' registration: the status
            # thread, dropping the unstarted calls under it too, then sees every call
            # submitted before the refusal, and no call starts after it.
            with self.lithops_lock:
                if self.destination_refusal is not None:
                    for job in batch:
                        self.hold_back(job)
                    continue
                for job in batch:
                    self.run_job_pre(job)
                self.submit(fexec, batch, config_file, region, memory_mb)

    def submit(
        self,
        fexec: lithops.FunctionExecutor,
        batch: list[JobExecutorInterface],
        config_file: str,
        region: str,
        memory_mb: int,
    ):
        """Start ``batch`` as one Lithops map and register its calls."""
        try:
            futures = fexec.map(
                run_job, [(job_spec(job),) for job in batch], runtime_memory=memory_mb
            )
        except Exception as err:
            raise WorkflowError(
                f"Lithops refused to submit {len(batch)} call(s) to region {region} "
                f"({config_file}): {err}. Nothing of this batch was started; check the "
                "Lithops config and, for AWS, the runtime and credentials, then run again."
            ) from err
        for job, future in zip(batch, futures, strict=True):
            info = SubmittedJobInfo(
                job,
                external_jobid=call_name(future),
                aux={"future": future, "fexec": fexec, "attempt": 1},
            )
            self.unsettled[job.jobid] = info
            self.report_job_submission(info)

    async def check_active_jobs(
        self, active_jobs: list[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        if not active_jobs:
            # Snakemake starts the checking thread before its executor is fully built (the rate
            # limiter below comes after); with nothing submitted there is nothing to read yet.
            return
        async with self.status_rate_limiter:
            self.read_call_states(active_jobs)
        for info in active_jobs:
            if self.cancelling:
                # The calls are being killed on purpose: no outcome to report, nothing to retry.
                return
            if info.job.jobid not in self.unsettled:
                # Dropped by cancel_unstarted_calls, and already reported as failed (perhaps
                # after this check had passed it on as still running): no longer active.
                continue
            future = info.aux["future"]
            if future.done or future.ready:
                result, error = call_outcome(future)
            elif call_lost(info, time.monotonic()):
                result, error = None, LostCallError(LOST_CALL_MESSAGE)
            else:
                yield info
                continue
            if self.settle(info, result, error):
                yield info

    def read_call_states(self, active_jobs: list[SubmittedJobInfo]):
        """Let Lithops update the futures of the active calls, one non-blocking wait per
        Lithops executor: futures change state only inside a wait."""
        by_executor = defaultdict(list)
        for info in active_jobs:
            by_executor[id(info.aux["fexec"])].append(info)
        for infos in by_executor.values():
            try:
                with self.lithops_lock:
                    infos[0].aux["fexec"].wait(
                        [info.aux["future"] for info in infos],
                        throw_except=False,
                        return_when=ALWAYS,
                        show_progressbar=False,
                    )
            except Exception as err:
                # A status read that fails is tried again at the next check; letting it
                # escape would end Snakemake's checking thread and hang the run.
                self.logger.warning(f"Reading the Lithops call states failed ({err}); retrying.")

    def settle(self, info: SubmittedJobInfo, result, error: BaseException | None) -> bool:
        """Log the outcome of ``info``'s call, then start the call again or report the job's
        end to Snakemake; whether the call was started again (its job is still active)."""
        options = call_options(info.job)
        first_refusal = (
            isinstance(error, DestinationWriteError) and self.destination_refusal is None
        )
        if first_refusal:
            self.destination_refusal = error
        retry = should_retry(
            error, info.aux["attempt"], options.retries, self.destination_refusal is not None
        )
        self.log_attempt(info, result, error, final=not retry)
        if error is not None:
            # The call is over, its worker gone (a killed one may have left temporary files).
            remove_job_leftovers(info)
        if retry:
            self.resubmit(info, options)
            return True
        self.unsettled.pop(info.job.jobid, None)
        if error is None:
            summary = json.dumps(result, indent=2, sort_keys=True)
            write_job_log(info, f"success after {info.aux['attempt']} attempt(s)\n", summary)
            self.report_job_success(info)
        else:
            message = describe_error(error, info.aux["attempt"])
            write_job_log(info, message, traceback_tail(error))
            self.report_job_error(info, msg=message)
        if first_refusal:
            self.cancel_unstarted_calls()
        return False

    def cancel_unstarted_calls(self):
        """Drop the calls that Lithops has queued but not started, and fail their jobs as not
        started. The running calls are let finish: their cost is mostly spent already, they
        report their own seconds, and a Lambda call cannot be recalled anyway."""
        with self.lithops_lock:
            dropped = {
                call for fexec in self.function_executors.values() for call in drop_queued(fexec)
            }
        for info in list(self.unsettled.values()):
            future = info.aux["future"]
            if (future.job_key, future.call_id) in dropped:
                self.unsettled.pop(info.job.jobid)
                self.fail_unstarted(info)

    def hold_back(self, job: JobExecutorInterface):
        """Fail ``job`` without starting a call: the destination refused an earlier output."""
        self.run_job_pre(job)
        self.fail_unstarted(SubmittedJobInfo(job, aux={"attempt": 0}))

    def fail_unstarted(self, info: SubmittedJobInfo):
        """Fail the job of ``info`` as attempt 0, no call run (held back, or dropped from
        Lithops' queue): the destination refused an earlier job's output."""
        info.aux["attempt"] = 0
        error = DestinationWriteError(
            "Not started, the destination refused an earlier job's output and would refuse "
            f"this job's too: {self.destination_refusal}"
        )
        self.log_attempt(info, None, error, final=True)
        message = f"{error}\n"
        write_job_log(info, message, "")
        self.report_job_error(info, msg=message)

    def cancel_jobs(self, active_jobs: list[SubmittedJobInfo]):
        # Every unsettled call, not only ``active_jobs`` (see __post_init__). Calls not started
        # are dropped; running localhost calls are killed (a running Lambda call cannot be, but
        # its atomic write never leaves a partial output). Snakemake then marks none of these
        # jobs as done, and the reports list them as cancelled.
        self.cancelling = True
        stop = KeyboardInterrupt("the Snakemake run was cancelled")
        unsettled = list(self.unsettled.values())
        for info in unsettled:
            self.log_attempt(info, None, stop, final=True)
        for fexec in self.function_executors.values():
            fexec.invoker.stop()
            fexec.compute_handler.clear(None, exception=stop)
        # The killed localhost workers may have left temporary files beside their outputs;
        # nothing of this run writes them any more, and Snakemake's lock keeps other runs out.
        for info in unsettled:
            remove_job_leftovers(info)

    def shutdown(self):
        super().shutdown()
        for fexec in self.function_executors.values():
            fexec.clean(clean_cloudobjects=False, force=True, on_exit=True)
        self.write_reports()

    def write_reports(self):
        """The run's reports and plots, after every run: finished, failed or cancelled."""
        # Imported here, not with the plugin: Snakemake imports every installed plugin at its
        # start, dry runs included, and matplotlib would add ~30 MB and 0.5 s to each.
        from ttc_ard.reports import write_reports

        config = self.workflow.config
        folder = write_reports(
            self.run_log,
            self.run_id,
            Path(config["report_dir"]),
            Path(config["plot_dir"]),
            config["lambda_price_per_gb_second"],
            planned_cost(self.plan_file),
        )
        if folder is not None:
            headline = (folder / "report.txt").read_text().split("\n\n")[:2]
            self.logger.info("\n".join(headline) + f"\nReports of this run: {folder}/")

    def function_executor(self, config_file: str, region: str) -> lithops.FunctionExecutor:
        """The Lithops executor of one region, created on first use."""
        if config_file not in self.function_executors:
            config = load_lithops_config(config_file)
            try:
                self.function_executors[config_file] = lithops.FunctionExecutor(config=config)
            except Exception as err:
                raise WorkflowError(
                    f"Lithops could not start an executor for region {region} from "
                    f"{config_file}: {err}. Check that file and, for AWS, your credentials."
                ) from err
            # Lithops warns about every call exception each time it is read; this executor
            # reports each failure itself, once, with the attempt count. (Set after the
            # executor is made: Lithops's logging setup resets the levels of its loggers.)
            logging.getLogger("lithops.future").setLevel(logging.ERROR)
        return self.function_executors[config_file]

    def resubmit(self, info: SubmittedJobInfo, options: CallOptions):
        fexec = info.aux["fexec"]
        with self.lithops_lock:
            future = fexec.call_async(
                run_job, (job_spec(info.job),), runtime_memory=options.memory_mb
            )
        info.aux["future"] = future
        info.aux["attempt"] += 1
        info.aux.pop("unreported_since", None)
        info.external_jobid = call_name(future)
        self.logger.info(
            f"Retrying job {info.job.jobid} ({info.job.name}), attempt {info.aux['attempt']} "
            f"of {options.retries + 1}."
        )

    def log_attempt(self, info: SubmittedJobInfo, result, error, final: bool):
        """Append one call attempt to this run's JSON-lines log."""
        record = attempt_record(
            info,
            call_options(info.job),
            run_id=self.run_id,
            result=result,
            error=error,
            final=final,
            settled=time.time(),
        )
        append_record(self.run_log, record)


def call_name(future) -> str:
    """The call's id as Lithops logs it: executor/job/call."""
    return f"{future.executor_id}/{future.job_id}/{future.call_id}"


def write_job_log(info: SubmittedJobInfo, headline: str, body: str) -> None:
    """Write the call's outcome to the rule's log file, where --show-failed-logs looks."""
    for log_path in info.job.log:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text(f"{headline}{body}\n")


def remove_job_leftovers(info: SubmittedJobInfo) -> None:
    """Delete what a failed or killed worker may have left of the job's outputs: temporary
    files beside local outputs, unfinished multipart uploads of S3 ones (a killed upload
    cannot abort its own, and S3 bills its parts until someone does)."""
    spec = job_spec(info.job)
    for output in [*spec["outputs"].values(), spec["qa"]]:
        if "://" not in output:
            remove_partials(output)
            continue
        try:
            abort_unfinished_uploads(output, spec.get("s3_endpoint_url"))
        except Exception as err:
            # Not worth failing the run over: a bucket lifecycle rule ends them (see README).
            logging.getLogger(__name__).warning(
                f"Could not abort unfinished uploads of {output}: {err}"
            )


def drop_queued(fexec: lithops.FunctionExecutor) -> set[tuple[str, str]]:
    """Take the calls that ``fexec``'s localhost workers have not started out of their queue;
    their (job key, call id). None for Lambda: Lithops invokes up to ``max_workers`` calls of
    a map at once (more than Snakemake's ``jobs`` ever submits), and cannot recall them.

    Lithops' own ``compute_handler.clear(job_keys)`` drops the same tasks but does not say
    which, and waits for the running calls to end (it joins the worker threads).
    """
    if fexec.backend != "localhost":
        return set()
    env = fexec.compute_handler.env
    dropped = set()
    while True:
        try:
            task = json.loads(env.work_queue.get(block=False))
        except queue.Empty:
            return dropped
        dropped.add((task["job_key"], task["call_ids"][0]))
        # Counted down as the worker thread does after each task: the job's latch then opens
        # when its running calls end, which ends Lithops' job manager thread (it would keep
        # the process alive) and lets call_lost notice a running call that dies.
        env.jobs[task["job_key"]].unlock()
