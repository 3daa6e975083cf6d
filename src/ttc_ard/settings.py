"""Checking the workflow config against its schema, with errors a person can act on."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    """The config holds a value the workflow cannot run with; the message says how to fix it."""


def load_schema(path: str | os.PathLike) -> dict:
    return yaml.safe_load(Path(path).read_text())


def validate_config(config: dict, schema: dict) -> None:
    """Fill in the schema's defaults for absent keys, then check every value.

    Raises :class:`ConfigError` naming each bad key, what is wrong and how to set it.
    """
    for key, spec in schema["properties"].items():
        if key not in config and "default" in spec:
            config[key] = spec["default"]
    validator = jsonschema.Draft202012Validator(schema)
    problems = [describe(error, schema) for error in sorted(validator.iter_errors(config), key=str)]
    problems = [problem[0].upper() + problem[1:] for problem in problems]
    if problems:
        raise ConfigError(
            "Invalid configuration: "
            + " ".join(problems)
            + " Fix it in config/config.yaml or override it with --config KEY=VALUE."
        )


def describe(error: jsonschema.ValidationError, schema: dict) -> str:
    """One sentence for one schema violation, naming the key."""
    known = list(schema["properties"])
    if error.validator == "additionalProperties" and not error.path:
        unknown = sorted(set(error.instance) - set(known))
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, known, n=1)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        return f"unknown config key {', '.join(hints)}; the known keys are {', '.join(known)}."
    key = ".".join(str(part) for part in error.path) or "(top level)"
    top = str(error.path[0]) if error.path else None
    meaning = schema["properties"].get(top, {}).get("description")
    return f"'{key}' = {error.instance!r}: {error.message}" + (
        f" ('{top}' is the {meaning})." if meaning else "."
    )
