"""The outside-reads guard: a test session that reads a file beside the repository fails, naming
the file and the test that read it; reads in the repository or in allowed places pass."""

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def layout(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository-like folder ``repo`` with a sibling folder holding files, as on a machine where
    the real repository has data beside it. Returns the repository root."""
    root = pytester.path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "data/inside.txt").write_text("in the repository")
    (pytester.path / "sibling").mkdir()
    (pytester.path / "sibling/beside.txt").write_text("beside the repository")
    (pytester.path / "sibling/tiledb.parquet").write_text("stands for the full tile DB")
    # The inner session's temporary folder is a sibling of its repository, as the real /tmp is
    # not: without this, the whole layout would lie in an allowed place.
    (pytester.path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(pytester.path / "tmp"))
    monkeypatch.delenv("TTC_ARD_FULL_TILEDB", raising=False)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    return root


def run_guarded(pytester: pytest.Pytester, root: Path) -> pytest.RunResult:
    """Runs the tests in ``root`` in a new process, guarded with ``root`` as the repository.
    A new process, because an audit hook, once added, stays for the life of the process."""
    return pytester.runpytest_subprocess(
        "-p", "outside_reads", "-o", f"outside_reads_root={root}", str(root)
    )  # fmt: skip


def test_a_session_that_reads_beside_the_repository_fails_naming_file_and_reader(pytester, layout):
    beside = layout.parent / "sibling/beside.txt"
    # A link committed in the repository does not bring its target along to a fresh clone.
    (layout / "data/linked.txt").symlink_to(beside)
    (layout / "test_reads.py").write_text(
        "from pathlib import Path\n"
        f"HEADER = Path({str(beside)!r}).read_text()\n"
        "def test_reads_beside():\n"
        f"    assert Path({str(beside)!r}).read_bytes()\n"
        "def test_reads_inside():\n"
        "    assert (Path(__file__).parent / 'data/inside.txt').read_text()\n"
        "def test_reads_through_a_link():\n"
        "    assert (Path(__file__).parent / 'data/linked.txt').read_text()\n"
    )
    result = run_guarded(pytester, layout)
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= files read outside the repository =*",
            f"{layout}/data/linked.txt read by repo/test_reads.py::test_reads_through_a_link",
            f"{beside} read by repo/test_reads.py (collection),"
            " repo/test_reads.py::test_reads_beside",
        ]
    )
    assert "inside.txt" not in result.stdout.str()


def test_a_session_that_reads_only_the_repository_and_temporary_files_passes(pytester, layout):
    (layout / "test_reads.py").write_text(
        "import tempfile\n"
        "from pathlib import Path\n"
        "def test_reads_inside_and_temporary(tmp_path):\n"
        "    assert (Path(__file__).parent / 'data/inside.txt').read_text()\n"
        "    (tmp_path / 'scratch.txt').write_text('x')\n"
        "    assert (tmp_path / 'scratch.txt').read_text() == 'x'\n"
        "    with tempfile.NamedTemporaryFile('w+') as scratch:\n"
        "        scratch.write('y')\n"
        "        scratch.seek(0)\n"
        "        assert scratch.read() == 'y'\n"
    )
    result = run_guarded(pytester, layout)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "outside the repository" not in result.stdout.str()


def test_the_full_tile_db_named_by_its_variable_may_be_read_beside_the_repository(
    pytester, layout, monkeypatch
):
    tiledb = layout.parent / "sibling/tiledb.parquet"
    (layout / "test_reads.py").write_text(
        "import os\n"
        "from pathlib import Path\n"
        "def test_reads_the_full_tile_db():\n"
        "    assert Path(os.environ['TTC_ARD_FULL_TILEDB']).read_bytes()\n"
    )
    monkeypatch.setenv("TTC_ARD_FULL_TILEDB", str(tiledb))
    result = run_guarded(pytester, layout)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
