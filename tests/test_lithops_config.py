"""Reading a Lithops config file: the interpreter of localhost workers, ${VAR} expansion,
errors that name what to fix."""

import sys

import pytest
from snakemake_interface_common.exceptions import WorkflowError

from snakemake_executor_plugin_lithops.lithops_config import (
    lithops_backend,
    load_lithops_config,
)


def test_localhost_config_runs_this_interpreter(tmp_path):
    path = tmp_path / "localhost.yaml"
    path.write_text("lithops:\n  backend: localhost\n  storage: localhost\n")
    assert load_lithops_config(str(path))["localhost"]["runtime"] == sys.executable


def test_a_config_naming_no_backend_is_localhost(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    config = load_lithops_config(str(path))
    assert lithops_backend(config) == "localhost"
    assert config["localhost"]["runtime"] == sys.executable


def test_a_runtime_set_in_the_file_is_kept(tmp_path):
    path = tmp_path / "localhost.yaml"
    path.write_text("localhost:\n  runtime: /opt/python/bin/python3\n")
    assert load_lithops_config(str(path))["localhost"]["runtime"] == "/opt/python/bin/python3"


def test_environment_variables_are_expanded(tmp_path, monkeypatch):
    path = tmp_path / "aws.yaml"
    path.write_text(
        "lithops:\n  backend: aws_lambda\naws_lambda:\n  execution_role: ${ROLE}\n"
        "  runtime_memory: [512, '${ROLE}']\n"
    )
    monkeypatch.setenv("ROLE", "arn:aws:iam::123:role/x")
    config = load_lithops_config(str(path))
    assert config["aws_lambda"]["execution_role"] == "arn:aws:iam::123:role/x"
    assert config["aws_lambda"]["runtime_memory"] == [512, "arn:aws:iam::123:role/x"]
    assert lithops_backend(config) == "aws_lambda"
    assert "localhost" not in config


def test_unset_variables_are_all_named_in_the_error(tmp_path, monkeypatch):
    path = tmp_path / "aws.yaml"
    path.write_text(
        "aws_s3:\n  storage_bucket: ${TTC_TEST_UNSET_BUCKET}\n"
        "aws_lambda:\n  execution_role: ${TTC_TEST_UNSET_ROLE}\n"
    )
    monkeypatch.delenv("TTC_TEST_UNSET_BUCKET", raising=False)
    monkeypatch.delenv("TTC_TEST_UNSET_ROLE", raising=False)
    with pytest.raises(WorkflowError, match="TTC_TEST_UNSET_BUCKET, TTC_TEST_UNSET_ROLE"):
        load_lithops_config(str(path))


def test_missing_config_file_names_the_config_key(tmp_path):
    with pytest.raises(WorkflowError, match="lithops_config"):
        load_lithops_config(str(tmp_path / "absent.yaml"))
