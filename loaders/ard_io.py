"""Writing ARD arrays: hickle files, replaced atomically so no reader ever sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import hickle
import numpy as np


def write_hkl(array: np.ndarray, dest: str | os.PathLike) -> None:
    """Write one array as a gzip-compressed hickle file at ``dest``.

    The file is written next to ``dest`` under a temporary name that cannot pass for an output
    and renamed over it once complete, so a killed writer leaves either the old file or none.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    os.close(fd)
    try:
        hickle.dump(np.ascontiguousarray(array), tmp, mode="w", compression="gzip")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
