"""How a job's Lithops calls run: region, config and retries from the rule's params, memory
from its resources."""

from types import SimpleNamespace

import pytest
from snakemake.iocontainers import ResourceList
from snakemake_interface_common.exceptions import WorkflowError

from snakemake_executor_plugin_lithops.call_options import CallOptions, call_options

LITHOPS = {"region": "us-west-2", "config": "config/lithops/localhost.yaml", "retries": 3}


def job(resources: dict, **params) -> SimpleNamespace:
    """A job as the executor sees it, with its resources as Snakemake expands them."""
    return SimpleNamespace(
        name="s2", params=SimpleNamespace(**params), resources=ResourceList(fromdict=resources)
    )


def test_memory_comes_from_the_jobs_mem_mb():
    # What Snakemake hands a job for `--set-resources s2:mem_mb=3072`.
    resources = {"mem_mb": 3072, "mem": "3.07 GB", "mem_mib": 2930, "tmpdir": "<TBD>"}
    options = call_options(job(resources, loader={}, lithops=LITHOPS))
    assert options == CallOptions("us-west-2", "config/lithops/localhost.yaml", 3072, 3)


def test_a_job_without_mem_mb_names_the_resource_to_declare():
    with pytest.raises(WorkflowError, match="--set-resources s2:mem_mb=N"):
        call_options(job({"tmpdir": "<TBD>"}, loader={}, lithops=LITHOPS))


@pytest.mark.parametrize("params", [{"loader": {}}, {"lithops": LITHOPS}, {}])
def test_a_rule_without_both_params_is_named(params):
    with pytest.raises(WorkflowError, match="Rule s2 has no 'loader' and 'lithops' params"):
        call_options(job({"mem_mb": 2048}, **params))
