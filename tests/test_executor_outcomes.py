"""What becomes of a call: status, retry decision, the message Snakemake shows, lost calls."""

import sys
from types import SimpleNamespace

import pytest
from lithops.utils import CountDownLatch
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo

from loaders.errors import DestinationWriteError, SourceAccessError, TileDataError
from loaders.spec import SpecError
from snakemake_executor_plugin_lithops.outcomes import (
    LOST_CALL_GRACE_SECONDS,
    call_lost,
    call_outcome,
    call_status,
    describe_error,
    should_retry,
    traceback_tail,
)


def raised(error: BaseException) -> BaseException:
    """``error`` as an except clause catches it, with its traceback."""

    def failing_loader():
        raise error

    try:
        failing_loader()
    except BaseException as caught:
        return caught
    raise AssertionError("not raised")


NO_CELL = raised(TileDataError("missing_data", "no DEM cell under the tile"))
DISK_FULL = raised(DestinationWriteError("No space left on device: make room on /data"))
KILLED = raised(MemoryError("worker killed"))
NO_DEM_ROOT = raised(SpecError("the dem job's spec lacks 'dem_root'"))
REFUSED = raised(SourceAccessError("the read of s3://sentinel-s1-l1c/x.tiff was refused"))


def test_status_separates_data_problems_from_errors():
    assert call_status(None) == "success"
    assert call_status(NO_CELL) == "failed"
    assert call_status(KILLED) == "error"
    assert call_status(DISK_FULL) == "error"
    assert call_status(NO_DEM_ROOT) == "error"
    assert call_status(REFUSED) == "error"  # the tile's data is not at fault
    assert call_status(KeyboardInterrupt("the Snakemake run was cancelled")) == "cancelled"


@pytest.mark.parametrize(
    ("error", "attempt", "retries", "refused", "retry"),
    [
        (None, 1, 3, False, False),  # a success
        (KILLED, 1, 3, False, True),
        (KILLED, 3, 3, False, True),  # the third retry is the fourth attempt
        (KILLED, 4, 3, False, False),
        (KILLED, 1, 0, False, False),
        (NO_CELL, 1, 3, False, False),  # the data would be as bad again
        (DISK_FULL, 1, 3, False, False),  # the destination would refuse again
        (NO_DEM_ROOT, 1, 3, False, False),  # the next call would get the same spec
        (REFUSED, 1, 3, False, False),  # the source would refuse the read again
        (KILLED, 1, 3, True, False),  # its outputs would be refused
    ],
)
def test_retry_decision(error, attempt, retries, refused, retry):
    assert should_retry(error, attempt, retries, destination_refused=refused) is retry


def test_the_message_says_what_failed_and_after_how_many_attempts():
    assert describe_error(NO_CELL, 1) == (
        "TileDataError (tile data problem, not retried) after 1 attempt(s): "
        "no DEM cell under the tile\n"
    )
    assert "(the destination refuses the outputs, not retried)" in describe_error(DISK_FULL, 1)
    assert "(malformed job spec, not retried)" in describe_error(NO_DEM_ROOT, 1)
    assert describe_error(REFUSED, 1).startswith(
        "SourceAccessError (a source refuses the reads, not retried) after 1 attempt(s): "
    )
    assert describe_error(KILLED, 4) == "MemoryError (error) after 4 attempt(s): worker killed\n"


def test_traceback_tail_ends_where_the_error_was_raised():
    tail = traceback_tail(KILLED)
    assert "in failing_loader" in tail and tail.endswith("MemoryError: worker killed\n")
    assert len(traceback_tail(KILLED, lines=1).splitlines()) == 1


class Future:
    """A settled call as Lithops hands it over: ``result`` re-raises the worker's exception,
    and installs Lithops' own excepthook while doing so."""

    def __init__(self, outcome):
        self.outcome = outcome

    def result(self, throw_except: bool):
        sys.excepthook = lambda *args: None
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def test_outcome_is_the_result_or_the_error_and_keeps_the_excepthook():
    hook = sys.excepthook
    assert call_outcome(Future({"shape": [600, 600]})) == ({"shape": [600, 600]}, None)
    assert call_outcome(Future(NO_CELL)) == (None, NO_CELL)
    assert sys.excepthook is hook


def unreported_call(latch: CountDownLatch | None) -> SubmittedJobInfo:
    """A submitted call whose map runs on a localhost backend with Lithops' task ``latch``
    (None: a backend without one, as Lambda)."""
    env = SimpleNamespace(jobs={"M000": latch}) if latch else None
    fexec = SimpleNamespace(compute_handler=SimpleNamespace(env=env))
    return SubmittedJobInfo(
        SimpleNamespace(), aux={"fexec": fexec, "future": SimpleNamespace(job_key="M000")}
    )


def test_a_call_unreported_past_the_grace_after_its_map_ended_is_lost():
    latch = CountDownLatch(2)
    info = unreported_call(latch)
    assert not call_lost(info, now=0)
    latch.unlock()
    assert not call_lost(info, now=100), "a task of the map is still running"
    latch.unlock()
    assert not call_lost(info, now=1000)  # the map ended: the grace starts now
    assert not call_lost(info, now=1000 + LOST_CALL_GRACE_SECONDS)
    assert call_lost(info, now=1000 + LOST_CALL_GRACE_SECONDS + 1)


def test_without_a_task_latch_no_call_is_ever_lost():
    assert not call_lost(unreported_call(None), now=0)
    assert not call_lost(unreported_call(None), now=10**6)
