"""Reading a Lithops config file: the executor builds its Lithops executors from it, and the
workflow reads it while parsing, so that a missing file or variable stops a run before any job.
"""

import os
import re
import sys
from pathlib import Path

import yaml
from snakemake_interface_common.exceptions import WorkflowError


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
    if lithops_backend(config) == "localhost":
        config.setdefault("localhost", {}).setdefault("runtime", sys.executable)
    return config


def lithops_backend(config: dict) -> str:
    """The compute backend a loaded Lithops config runs its calls on (Lithops' default:
    localhost)."""
    return config.get("lithops", {}).get("backend", "localhost")


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
