"""The lithops executor plugin: discovery by Snakemake, Lithops config handling, outcomes."""

import sys

import pytest
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

from loaders.errors import TileDataError
from snakemake_executor_plugin_lithops import (
    ExecutorSettings,
    call_status,
    describe_error,
    load_lithops_config,
)


def test_snakemake_finds_the_plugin_and_its_settings():
    plugin = ExecutorPluginRegistry().get_plugin("lithops")
    assert plugin.common_settings.non_local_exec
    assert plugin.settings_cls is ExecutorSettings


def test_localhost_config_runs_this_interpreter(tmp_path):
    path = tmp_path / "localhost.yaml"
    path.write_text("lithops:\n  backend: localhost\n  storage: localhost\n")
    assert load_lithops_config(str(path))["localhost"]["runtime"] == sys.executable


def test_environment_variables_are_expanded(tmp_path, monkeypatch):
    path = tmp_path / "aws.yaml"
    path.write_text("lithops:\n  backend: aws_lambda\naws_lambda:\n  execution_role: ${ROLE}\n")
    monkeypatch.setenv("ROLE", "arn:aws:iam::123:role/x")
    config = load_lithops_config(str(path))
    assert config["aws_lambda"]["execution_role"] == "arn:aws:iam::123:role/x"
    assert "localhost" not in config


def test_unset_variable_is_named_in_the_error(tmp_path, monkeypatch):
    path = tmp_path / "aws.yaml"
    path.write_text("aws_s3:\n  storage_bucket: ${TTC_TEST_UNSET_BUCKET}\n")
    monkeypatch.delenv("TTC_TEST_UNSET_BUCKET", raising=False)
    with pytest.raises(WorkflowError, match="TTC_TEST_UNSET_BUCKET"):
        load_lithops_config(str(path))


def test_missing_config_file_names_the_config_key(tmp_path):
    with pytest.raises(WorkflowError, match="lithops_config"):
        load_lithops_config(str(tmp_path / "absent.yaml"))


def test_outcomes_separate_data_problems_from_errors():
    assert call_status(None) == "success"
    assert call_status(TileDataError("missing_data", "no cell")) == "failed"
    assert call_status(MemoryError("killed")) == "error"
    assert call_status(KeyboardInterrupt("the Snakemake run was cancelled")) == "cancelled"
    assert "not retried" in describe_error(TileDataError("bad_data", "nan"), 1)
    assert "after 4 attempt(s)" in describe_error(MemoryError("killed"), 4)
