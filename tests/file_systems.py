"""File systems that refuse writes, for the tests of destinations that refuse outputs. Mounting
needs root, as CI and the development machines run; a test run as another user fails saying so."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def filled_tmpfs(folder: Path) -> Iterator[Path]:
    """``folder`` as a file system of its own with no space left: a small tmpfs holding copies of
    the files ``folder`` had (same bytes and times), filled up by the file ``filler`` (removing
    it frees the space). On exit it is unmounted, and the files beneath are seen again untouched.
    """
    held = {path.name: (path.read_bytes(), path.stat()) for path in folder.iterdir()}
    mount = ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", folder]
    done = subprocess.run(mount, capture_output=True, text=True)
    assert done.returncode == 0, f"a full disk is made by mounting a tmpfs (as root): {done}"
    try:
        for name, (content, stat) in held.items():
            (folder / name).write_bytes(content)
            os.utime(folder / name, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        try:
            with open(folder / "filler", "wb") as filler:
                while True:
                    filler.write(bytes(2**20))
                    filler.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC
        yield folder
    finally:
        subprocess.run(["umount", folder], check=True)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` refusing every write, root's included: a read-only bind mount of itself."""
    mounts = [["mount", "--bind", folder, folder], ["mount", "-o", "remount,bind,ro", folder]]
    for mount in mounts:
        done = subprocess.run(mount, capture_output=True, text=True)
        assert done.returncode == 0, f"a read-only folder is made by a bind mount (as root): {done}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", folder], check=True)
