"""Snakemake executor plugin that runs tile jobs as Lithops calls, one ``map`` per region.

A rule opts in with two params: ``loader`` (the JSON-able job spec handed to
``loaders.jobs.run_job`` in the worker) and ``lithops`` (``region``, ``config`` - a Lithops
config file -, ``memory_mb`` and ``retries``). Workers write their outputs themselves; the
executor reports each call's outcome to Snakemake, retries calls that failed for reasons other
than the tile's data or a destination refusing the outputs, and appends every attempt to a
JSON-lines run log. Once the destination has refused an output, it starts and retries no
further call: the calls Lithops has queued but not started are dropped.
"""

import json
import logging
import os
import queue
import re
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

import lithops
import yaml
from lithops.constants import SESSION_ID_ENV as LITHOPS_SESSION_ENV
from lithops.constants import TOTAL_EXECUTORS_ENV as LITHOPS_EXECUTOR_COUNT_ENV
from lithops.wait import ALWAYS
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface
from snakemake_interface_executor_plugins.settings import CommonSettings, ExecutorSettingsBase

from loaders.ard_io import abort_unfinished_uploads, remove_partials
from loaders.errors import DestinationWriteError, TileDataError
from loaders.jobs import run_job
from ttc_ard.reports import write_reports

#: Errors that a retry of the call would only meet again, at the price of the tile's computation.
NOT_RETRIED = (TileDataError, DestinationWriteError)


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
            options = lithops_options(job)
            batches[(options["config"], options["region"], options["memory_mb"])].append(job)
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
                run_job, [(job.params.loader,) for job in batch], runtime_memory=memory_mb
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
        by_executor = defaultdict(list)
        for info in active_jobs:
            by_executor[id(info.aux["fexec"])].append(info)
        async with self.status_rate_limiter:
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
                    self.logger.warning(
                        f"Reading the Lithops call states failed ({err}); retrying."
                    )
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
            first_refusal = (
                isinstance(error, DestinationWriteError) and self.destination_refusal is None
            )
            if first_refusal:
                self.destination_refusal = error
            # After a refusal no call is retried: its outputs would be refused too.
            retry = error is not None and not isinstance(error, NOT_RETRIED)
            retry = retry and self.destination_refusal is None
            retry = retry and info.aux["attempt"] <= lithops_options(info.job)["retries"]
            self.log_attempt(info, result, error, final=not retry)
            if error is not None:
                # The call is over, its worker gone (a killed one may have left temporary files).
                remove_job_leftovers(info)
            if not retry:
                self.unsettled.pop(info.job.jobid, None)
            if error is None:
                summary = json.dumps(result, indent=2, sort_keys=True)
                write_job_log(info, f"success after {info.aux['attempt']} attempt(s)\n", summary)
                self.report_job_success(info)
            elif retry:
                self.resubmit(info)
                yield info
            else:
                message = describe_error(error, info.aux["attempt"])
                write_job_log(info, message, traceback_tail(error))
                self.report_job_error(info, msg=message)
            if first_refusal:
                self.cancel_unstarted_calls()

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
        config = self.workflow.config
        plan = next(
            (h.plan for h in logging.getLogger("snakemake.logging").handlers if hasattr(h, "plan")),
            None,
        )
        folder = write_reports(
            self.run_log,
            self.run_id,
            Path(config["report_dir"]),
            Path(config["plot_dir"]),
            config["lambda_price_per_gb_second"],
            None if plan is None else plan.cost_usd,
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

    def resubmit(self, info: SubmittedJobInfo):
        options = lithops_options(info.job)
        fexec = info.aux["fexec"]
        with self.lithops_lock:
            future = fexec.call_async(
                run_job, (info.job.params.loader,), runtime_memory=options["memory_mb"]
            )
        info.aux["future"] = future
        info.aux["attempt"] += 1
        info.aux.pop("unreported_since", None)
        info.external_jobid = call_name(future)
        self.logger.info(
            f"Retrying job {info.job.jobid} ({info.job.name}), attempt {info.aux['attempt']} "
            f"of {options['retries'] + 1}."
        )

    def log_attempt(self, info: SubmittedJobInfo, result, error, final: bool):
        """Append one call attempt to this run's JSON-lines log."""
        job = info.job
        options = lithops_options(job)
        # A job held back (see hold_back) has no call: no backend, nothing measured.
        future, fexec = info.aux.get("future"), info.aux.get("fexec")
        record = {
            "run_id": self.run_id,
            "jobid": job.jobid,
            "rule": job.name,
            "wildcards": dict(job.wildcards.items()),
            "tile": job.params.loader.get("tile"),
            "outputs": list(job.params.loader["outputs"].values()),
            "region": options["region"],
            "memory_mb": options["memory_mb"],
            "backend": fexec and fexec.backend,
            "call": info.external_jobid,
            "attempt": info.aux["attempt"],
            "final": final,
            # When this executor learned the outcome (epoch seconds, like Lithops' timestamps).
            "settled": round(time.time(), 3),
            "status": call_status(error),
            "reason": getattr(error, "reason", None),
            "error": None if error is None else f"{type(error).__name__}: {error}",
            "traceback_tail": None if error is None else traceback_tail(error),
            "result": result,
            "stats": {k: v for k, v in future.stats.items() if is_number(v)} if future else {},
        }
        self.run_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.run_log, "a") as log:
            log.write(json.dumps(record, sort_keys=True) + "\n")


def remove_job_leftovers(info: SubmittedJobInfo) -> None:
    """Delete what a failed or killed worker may have left of the job's outputs: temporary
    files beside local outputs, unfinished multipart uploads of S3 ones (a killed upload
    cannot abort its own, and S3 bills its parts until someone does)."""
    spec = info.job.params.loader
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


def lithops_options(job: JobExecutorInterface) -> dict:
    """The rule's ``lithops`` params; a rule without them cannot run through this executor."""
    options = getattr(job.params, "lithops", None)
    if not options or not hasattr(job.params, "loader"):
        raise WorkflowError(
            f"Rule {job.name} has no 'loader' and 'lithops' params, so the lithops executor "
            "cannot run it. Declare it in localrules, or give it both params."
        )
    return options


def load_lithops_config(path: str) -> dict:
    """Read a Lithops config file, expanding ``${VAR}`` from the environment.

    For the localhost backend the workers run this very interpreter: Lithops would otherwise
    start ``python`` from PATH, which lacks the loaders outside an activated environment.
    """
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise WorkflowError(
            f"Cannot read the Lithops config {path}: {err.strerror}. Point the config key "
            "lithops_config at an existing file (see config/lithops/)."
        ) from err
    unset: set[str] = set()
    config = expand_environment(yaml.safe_load(text) or {}, unset)
    if unset:
        raise WorkflowError(
            f"The Lithops config {path} uses the environment variable(s) "
            f"{', '.join(sorted(unset))}, which are not set. Export them (see README, "
            "'Running on AWS') and run again."
        )
    if config.get("lithops", {}).get("backend", "localhost") == "localhost":
        config.setdefault("localhost", {}).setdefault("runtime", sys.executable)
    return config


def expand_environment(value, unset: set[str]):
    """``value`` with ``${VAR}`` in its strings replaced from the environment; the names of
    variables that are not set are added to ``unset``."""
    if isinstance(value, dict):
        return {key: expand_environment(item, unset) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_environment(item, unset) for item in value]
    if isinstance(value, str):
        unset.update(name for name in re.findall(r"\$\{(\w+)\}", value) if name not in os.environ)
        return os.path.expandvars(value)
    return value


def call_name(future) -> str:
    """The call's id as Lithops logs it: executor/job/call."""
    return f"{future.executor_id}/{future.job_id}/{future.call_id}"


class LostCallError(RuntimeError):
    """A call that Lithops ran but that never reported an outcome."""


#: Seconds a call may stay unreported once Lithops has run every task of its map: the worker
#: writes the call's status before it exits, and Lithops reads it within a few seconds.
LOST_CALL_GRACE_SECONDS = 30

LOST_CALL_MESSAGE = (
    "the Lithops worker process ended without reporting an outcome (killed, or crashed "
    f"before writing its status; nothing came {LOST_CALL_GRACE_SECONDS} s after its map ended)"
)


def call_lost(info: SubmittedJobInfo, now: float) -> bool:
    """Whether an unreported localhost call is lost: every task of its map has run, and it
    has stayed unreported for LOST_CALL_GRACE_SECONDS since. A localhost worker whose process
    group is killed writes no status, and Lithops would then wait for the call forever (a run
    was seen hanging so, every other call done)."""
    env = getattr(info.aux["fexec"].compute_handler, "env", None)  # localhost backends only
    latch = getattr(env, "jobs", {}).get(info.aux["future"].job_key)
    if latch is None or not latch.done:
        info.aux.pop("unreported_since", None)
        return False
    since = info.aux.setdefault("unreported_since", now)
    return now - since > LOST_CALL_GRACE_SECONDS


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


def call_outcome(future) -> tuple[object, BaseException | None]:
    """The call's result, or the exception it raised in the worker (or that ended the worker)."""
    # Lithops installs its own sys.excepthook when it re-raises; keep ours.
    hook = sys.excepthook
    try:
        return future.result(throw_except=True), None
    except Exception as err:
        return None, err
    finally:
        sys.excepthook = hook


def call_status(error: BaseException | None) -> str:
    """``success``, ``failed`` (the tile's data is at fault), ``cancelled`` (the run was
    stopped) or ``error`` (anything else, a destination refusing the outputs included)."""
    if error is None:
        return "success"
    if isinstance(error, KeyboardInterrupt):
        return "cancelled"
    return "failed" if isinstance(error, TileDataError) else "error"


def describe_error(error: BaseException, attempts: int) -> str:
    if isinstance(error, TileDataError):
        kind = "tile data problem, not retried"
    elif isinstance(error, DestinationWriteError):
        kind = "the destination refuses the outputs, not retried"
    else:
        kind = "error"
    return f"{type(error).__name__} ({kind}) after {attempts} attempt(s): {error}\n"


def traceback_tail(error: BaseException, lines: int = 15) -> str:
    return "".join(traceback.format_exception(error)[-lines:])


def write_job_log(info: SubmittedJobInfo, headline: str, body: str) -> None:
    """Write the call's outcome to the rule's log file, where --show-failed-logs looks."""
    for log_path in info.job.log:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text(f"{headline}{body}\n")


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
