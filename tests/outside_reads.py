"""Pytest plugin: the test session fails when a test reads a file beside the repository.

A fresh clone has nothing beside it, so a test that reads a sibling folder (``../data``) passes
on a machine that has one and fails for everyone else. An audit hook watches the test process's
opens. Reads of existing files under the repository's parent folder are recorded unless they are
in the repository or in an allowed place: the Python install and virtualenv, the temporary folder,
pytest's ``--basetemp``, the full tile DB named by ``TTC_ARD_FULL_TILEDB``, and hidden entries of
the parent folder (tool settings and caches such as ``~/.aws`` when the clone sits in a home
folder). At the end of the session the recorded files are listed with the test that read each,
and the session fails.

Only opens made through Python are seen (``open``, ``Path.read_*``, ``os.open``): a C library that
opens a file itself (GDAL, Arrow) or a subprocess (Snakemake in the workflow tests) is not watched.

The repository root is the ini option ``outside_reads_root``; it defaults to the folder that holds
``tests/``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT_OPTION = "outside_reads_root"
FULL_TILEDB_VARIABLE = "TTC_ARD_FULL_TILEDB"
REPO = Path(__file__).resolve().parents[1]
OUTSIDE_ANY_TEST = "the session, outside any test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        ROOT_OPTION,
        "repository root whose siblings tests may not read (default: the folder above tests/)",
        default=str(REPO),
    )


def pytest_configure(config: pytest.Config) -> None:
    root = Path(config.getini(ROOT_OPTION)).resolve()
    allowed_folders = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        tempfile.gettempdir(),
    ]
    if basetemp := config.getoption("basetemp", None):
        allowed_folders.append(basetemp)
    allowed_files = [os.environ[FULL_TILEDB_VARIABLE]] if FULL_TILEDB_VARIABLE in os.environ else []
    guard = OutsideReads(root, allowed_folders, allowed_files)
    config.pluginmanager.register(guard, "outside_reads_guard")
    sys.addaudithook(guard.audit)


class OutsideReads:
    """The files read beside the repository ``root``, each with the tests that read it."""

    def __init__(self, root: Path, allowed_folders: list[str], allowed_files: list[str]):
        self.beside = str(root.parent).rstrip(os.sep) + os.sep
        self.inside = str(root) + os.sep
        self.allowed_folders = tuple(
            os.path.realpath(f).rstrip(os.sep) + os.sep for f in allowed_folders
        )
        self.allowed_files = {os.path.realpath(f) for f in allowed_files}
        self.reader = OUTSIDE_ANY_TEST
        self.reads: dict[str, list[str]] = {}
        # Audit hooks cannot be removed: after the session this one stops recording.
        self.watching = True

    def audit(self, event: str, args: tuple) -> None:
        """Records ``open`` events that read a file beside the repository; cheap for all others."""
        if event != "open" or not self.watching:
            return
        path, _mode, flags = args
        if isinstance(path, int) or (flags & os.O_ACCMODE) == os.O_WRONLY:
            return
        opened = os.path.abspath(os.fsdecode(path))
        if opened.startswith(self.beside) and not opened.startswith(self.allowed_folders):
            self.record(opened)

    def record(self, opened: str) -> None:
        # Both the path and its target count: a link in the repository to ../data reads a
        # sibling, and so does a link beside the repository to anywhere.
        real = os.path.realpath(opened)
        if (
            not (self.is_beside(opened) or self.is_beside(real))
            or real.startswith(self.allowed_folders)
            or real in self.allowed_files
            or not os.path.isfile(real)
        ):
            return
        readers = self.reads.setdefault(opened, [])
        if self.reader not in readers:
            readers.append(self.reader)

    def is_beside(self, path: str) -> bool:
        """In the repository's parent folder, but not in the repository nor in a hidden entry."""
        return (
            path.startswith(self.beside)
            and not path.startswith(self.inside)
            and not path[len(self.beside) :].startswith(".")
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        # A test module's top-level code runs while it is collected.
        previous, self.reader = self.reader, f"{collector.nodeid or 'the session'} (collection)"
        try:
            return (yield)
        finally:
            self.reader = previous

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item):
        self.reader = item.nodeid
        try:
            return (yield)
        finally:
            self.reader = OUTSIDE_ANY_TEST

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.watching = False
        if self.reads:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.reads:
            return
        terminalreporter.write_sep("=", "files read outside the repository", red=True)
        for path, readers in sorted(self.reads.items()):
            terminalreporter.write_line(f"{path} read by {', '.join(readers)}")
        terminalreporter.write_line(
            f"A fresh clone has no files beside {self.inside.rstrip(os.sep)}: copy what the tests "
            "need into tests/fixtures/, or read it from a path the user names."
        )
