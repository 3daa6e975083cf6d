"""What became of a call: its outcome, its status in the run log, whether it is tried again,
and the sentence Snakemake shows for it."""

import sys
import traceback

from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo

from loaders.errors import DestinationWriteError, SourceAccessError, TileDataError
from loaders.spec import SpecError

#: Errors that a retry of the call would only meet again, at the price of the tile's computation
#: (a malformed spec is the workflow's and the loaders' disagreement, not the worker's fault; a
#: refused source read is refused again until the credentials or the settings change).
NOT_RETRIED = (TileDataError, SourceAccessError, DestinationWriteError, SpecError)

#: Seconds a call may stay unreported once Lithops has run every task of its map: the worker
#: writes the call's status before it exits, and Lithops reads it within a few seconds.
LOST_CALL_GRACE_SECONDS = 30

LOST_CALL_MESSAGE = (
    "the Lithops worker process ended without reporting an outcome (killed, or crashed "
    f"before writing its status; nothing came {LOST_CALL_GRACE_SECONDS} s after its map ended)"
)


class LostCallError(RuntimeError):
    """A call that Lithops ran but that never reported an outcome."""


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


def call_lost(info: SubmittedJobInfo, now: float) -> bool:
    """Whether an unreported localhost call is lost: every task of its map has run, and it
    has stayed unreported for LOST_CALL_GRACE_SECONDS since. A localhost worker whose process
    group is killed writes no status, and Lithops would then wait for the call forever (a run
    was seen hanging so, every other call done). ``info.aux`` keeps when the call was first
    seen unreported after its map ended."""
    env = getattr(info.aux["fexec"].compute_handler, "env", None)  # localhost backends only
    latch = getattr(env, "jobs", {}).get(info.aux["future"].job_key)
    if latch is None or not latch.done:
        info.aux.pop("unreported_since", None)
        return False
    since = info.aux.setdefault("unreported_since", now)
    return now - since > LOST_CALL_GRACE_SECONDS


def should_retry(
    error: BaseException | None, attempt: int, retries: int, destination_refused: bool
) -> bool:
    """Whether a call that ended with ``error`` (None: it succeeded) at attempt ``attempt``
    (1 for the first call) is tried again, given ``retries`` allowed after the first attempt.

    Errors in NOT_RETRIED would come back, and once the destination has refused an output
    (``destination_refused``) a retry's outputs would be refused too.
    """
    if error is None or isinstance(error, NOT_RETRIED) or destination_refused:
        return False
    return attempt <= retries


def call_status(error: BaseException | None) -> str:
    """``success``, ``failed`` (the tile's data is at fault), ``cancelled`` (the run was
    stopped) or ``error`` (anything else, a destination refusing the outputs included)."""
    if error is None:
        return "success"
    if isinstance(error, KeyboardInterrupt):
        return "cancelled"
    return "failed" if isinstance(error, TileDataError) else "error"


def describe_error(error: BaseException, attempts: int) -> str:
    """The line Snakemake shows for a job whose last call ended with ``error``."""
    if isinstance(error, TileDataError):
        kind = "tile data problem, not retried"
    elif isinstance(error, SourceAccessError):
        kind = "a source refuses the reads, not retried"
    elif isinstance(error, DestinationWriteError):
        kind = "the destination refuses the outputs, not retried"
    elif isinstance(error, SpecError):
        kind = "malformed job spec, not retried"
    else:
        kind = "error"
    return f"{type(error).__name__} ({kind}) after {attempts} attempt(s): {error}\n"


def traceback_tail(error: BaseException, lines: int = 15) -> str:
    """The last ``lines`` lines of ``error``'s traceback, where the worker's failure shows."""
    return "".join(traceback.format_exception(error)[-lines:])
