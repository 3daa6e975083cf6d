"""Running the real workflow from tests: Snakemake in a subprocess, in a scratch folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: Twenty-five DEM tiles of the shipped tile table: a run long enough for a second one to start
#: beside it, or for a refusal to come back while most of its calls wait in Lithops' queue.
MANY_TILES = [f"{x}X{y}Y" for x in range(1654, 1659) for y in range(1082, 1087)]


def write_request(path: Path, tiles_by_year: dict[str, list[str]]) -> Path:
    """A one-project request asking for ``tiles_by_year``."""
    request = {
        "test-project": {year: {"missing_tiles": ids} for year, ids in tiles_by_year.items()}
    }
    path.write_text(json.dumps(request))
    return path


def tile_numbers(tile: str) -> tuple[int, int]:
    """``1655X1083Y`` -> (1655, 1083)."""
    x_tile, y_tile = re.fullmatch(r"(\d+)X(\d+)Y", tile).groups()
    return int(x_tile), int(y_tile)


def dem_file(dest: Path, tile: str) -> Path:
    """The DEM output of ``tile`` (year 2023) under the destination folder ``dest``."""
    x_tile, y_tile = tile_numbers(tile)
    return dest / f"2023/raw/{x_tile}/{y_tile}/raw/misc/dem_{tile}.hkl"


def jobs_run(stdout_and_err: str, rule: str) -> int:
    """How many jobs of ``rule`` Snakemake reported as started."""
    return len(re.findall(rf"^\s*(?:localrule|rule) {rule}:", stdout_and_err, re.MULTILINE))


def call_attempts(workdir: Path) -> list[dict]:
    """The call attempts of the one run made in ``workdir``, from its run log."""
    (run_log,) = (workdir / "results/job_reports/run_logs").glob("*.jsonl")
    return [json.loads(line) for line in run_log.read_text().splitlines()]


def wait_for_line(process: subprocess.Popen, text: str) -> str:
    """Read ``process``'s stderr up to the first line containing ``text``; what was read."""
    seen = []
    for line in process.stderr:
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never came:\n{''.join(seen)[-4000:]}")


def sharing_archive(folder: Path, demo_archive: Path, own: str) -> Path:
    """A demo archive in ``folder`` linking every part of ``demo_archive`` but ``own``, which
    the caller fills: a variant of the shared archive that leaves the shared one untouched."""
    archive = folder / "archive"
    archive.mkdir()
    for part in demo_archive.iterdir():
        if part.name != own:
            (archive / part.name).symlink_to(part)
    return archive


def archive_copy(
    folder: Path, demo_archive: Path, collection: str, drop: Callable[[dict], bool]
) -> Path:
    """A demo archive in ``folder`` sharing the files of ``demo_archive`` but with its own
    catalogue, from which the items of ``collection`` for which ``drop(item)`` is true are
    removed: an archive where scenes are missing, without touching the shared one."""
    archive = sharing_archive(folder, demo_archive, "stac")
    shutil.copytree(demo_archive / "stac", archive / "stac")
    for item_path in (archive / "stac" / collection).glob("*.json"):
        if drop(json.loads(item_path.read_text())):
            item_path.unlink()
    return archive


def truncated_copy(folder: Path, demo_archive: Path, part: str) -> Path:
    """A demo archive in ``folder`` sharing the files of ``demo_archive`` except those of
    ``part`` (e.g. ``copernicus-dem-30m``), whose COGs are cut to their first 64 bytes, like
    an interrupted download: an archive that fails every tile reading them."""
    archive = sharing_archive(folder, demo_archive, part)
    for cog in (demo_archive / part).rglob("*.tif"):
        copy = archive / part / cog.relative_to(demo_archive / part)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(cog.read_bytes()[:64])
    return archive


class Workflow:
    """The repository's workflow run from a scratch working directory.

    Paths in the shipped config are relative to the working directory, so the test passes the
    repository's files by absolute path; the demo archive is shared between tests. Only the DEM
    is built unless a test asks for other products (``products="[dem, s2]"``): it is the
    quickest product, and enough for what most workflow tests check.
    """

    def __init__(self, workdir: Path, archive: Path, request: Path):
        self.workdir = workdir
        #: Environment variables set for Snakemake on top of the test process's own.
        self.env: dict[str, str] = {"PYTHONUNBUFFERED": "1"}
        self.config = {
            "request": str(request),
            "tiledb": str(REPO / "config/tiles.parquet"),
            "demo_archive": str(archive),
            "products": "[dem]",
            "lithops_config": json.dumps(
                {
                    "eu-central-1": str(REPO / "config/lithops/localhost.yaml"),
                    "us-west-2": str(REPO / "config/lithops/localhost.yaml"),
                }
            ),
        }

    def command(self, *args: str, **config) -> list[str]:
        settings = self.config | {k: str(v) for k, v in config.items()}
        return [
            SNAKEMAKE,
            "--snakefile", str(REPO / "Snakefile"),
            "--configfile", str(REPO / "config/config.yaml"),
            "--cores", "2",
            "--config", *(f"{key}={value}" for key, value in settings.items()),
            *args,
        ]  # fmt: skip

    def start(self, *args: str, log: Path | None = None, **config) -> subprocess.Popen:
        """Snakemake in the background, in a process group of its own (so that a test can
        kill it as a whole); its log comes on ``stderr``, or goes to the file ``log``."""
        stderr = subprocess.PIPE if log is None else log.open("w")
        try:
            return subprocess.Popen(
                self.command(*args, **config),
                cwd=self.workdir,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
                env=os.environ | self.env,
                start_new_session=True,
            )
        finally:
            if log is not None:
                stderr.close()  # Snakemake has its own copy

    def run(self, *args: str, check: bool = True, **config) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.command(*args, **config),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=600,
            env=os.environ | self.env,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"snakemake exited {result.returncode}\n--- stdout\n{result.stdout}\n"
                f"--- stderr\n{result.stderr[-6000:]}"
            )
        return result
