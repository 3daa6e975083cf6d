"""Writing files so that no reader ever sees half of one: write aside, then rename into place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import hickle
import numpy as np


def replace_atomically(dest: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` on a temporary path next to ``dest``, then rename it over ``dest``.

    The temporary name (``.<name>.<random>.partial``) cannot pass for an output, and a killed
    writer leaves either the old file or none; a failed write removes its temporary file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private to its owner; outputs are ordinary readable files.
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partials(dest: str | os.PathLike) -> None:
    """Delete the temporary files that writers of ``dest`` left when they were killed.

    Only for when no writer of ``dest`` can still be running: a live writer would lose its file.
    """
    dest = Path(dest)
    for partial in dest.parent.glob(f".{dest.name}.*.partial"):
        partial.unlink(missing_ok=True)


def write_hkl(array: np.ndarray, dest: str | os.PathLike) -> None:
    """Write one array as a gzip-compressed hickle file at ``dest``, atomically."""
    replace_atomically(
        dest,
        lambda tmp: hickle.dump(np.ascontiguousarray(array), tmp, mode="w", compression="gzip"),
    )


def write_json(record: dict, dest: str | os.PathLike) -> None:
    """Write a JSON record at ``dest``, atomically."""
    replace_atomically(
        dest, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    )
