"""What a rule tells the executor about its Lithops calls.

A rule opts in with two params, ``loader`` (a :class:`LoaderSpecs`, which makes the JSON-able
job spec the worker runs) and ``lithops`` (``region``, ``config`` - a Lithops config file - and
``retries``), and with the standard ``resources: mem_mb``, the memory of each call: Snakemake
resolves it per job (the rule's value, ``--set-resources RULE:mem_mb=N`` or ``mem=3GB`` over
it), as for any executor.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface


@dataclass(frozen=True)
class CallOptions:
    """How the Lithops calls of one job run."""

    region: str
    config: str
    """The Lithops config file of the region."""
    memory_mb: int
    retries: int
    """Calls tried again after the first, for errors that a retry may not meet again."""


@dataclass(frozen=True)
class LoaderSpecs:
    """A rule's ``loader`` param: makes the spec of each of the rule's jobs from the job's
    wildcards, when the executor starts or logs the job. Not a params function: Snakemake
    evaluates those for every job while it plans, dry runs included, and a spec per job held
    ~50 MB of a 10,000-tile plan."""

    spec_of: Callable[[Mapping[str, str]], dict]


def job_spec(job: JobExecutorInterface) -> dict:
    """The spec the worker runs for ``job`` (loaders.jobs.run_job)."""
    return job.params.loader.spec_of(job.wildcards)


def call_options(job: JobExecutorInterface) -> CallOptions:
    """The job's call options; a rule without them cannot run through this executor."""
    options = getattr(job.params, "lithops", None)
    if not options or not hasattr(job.params, "loader"):
        raise WorkflowError(
            f"Rule {job.name} has no 'loader' and 'lithops' params, so the lithops executor "
            "cannot run it. Declare it in localrules, or give it both params."
        )
    memory_mb = job.resources.get("mem_mb")
    if not isinstance(memory_mb, int):
        raise WorkflowError(
            f"Rule {job.name} gives its jobs no memory in MB (resources: mem_mb = "
            f"{memory_mb!r}), so the lithops executor cannot size its calls. Declare "
            "'resources: mem_mb=...' in the rule, or pass --set-resources "
            f"{job.name}:mem_mb=N."
        )
    return CallOptions(
        region=options["region"],
        config=options["config"],
        memory_mb=memory_mb,
        retries=options["retries"],
    )
