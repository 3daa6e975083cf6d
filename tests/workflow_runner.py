"""Running the real workflow from tests: Snakemake in a subprocess, in a scratch folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def write_request(path: Path, tiles_by_year: dict[str, list[str]]) -> Path:
    """A one-project request asking for ``tiles_by_year``."""
    request = {
        "test-project": {year: {"missing_tiles": ids} for year, ids in tiles_by_year.items()}
    }
    path.write_text(json.dumps(request))
    return path


def archive_copy(
    folder: Path, demo_archive: Path, collection: str, drop: Callable[[dict], bool]
) -> Path:
    """A demo archive in ``folder`` sharing the files of ``demo_archive`` but with its own
    catalogue, from which the items of ``collection`` for which ``drop(item)`` is true are
    removed: an archive where scenes are missing, without touching the shared one."""
    archive = folder / "archive"
    archive.mkdir()
    for part in demo_archive.iterdir():
        if part.name != "stac":
            (archive / part.name).symlink_to(part)
    shutil.copytree(demo_archive / "stac", archive / "stac")
    for item_path in (archive / "stac" / collection).glob("*.json"):
        if drop(json.loads(item_path.read_text())):
            item_path.unlink()
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

    def run(self, *args: str, check: bool = True, **config) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.command(*args, **config),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=600,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"snakemake exited {result.returncode}\n--- stdout\n{result.stdout}\n"
                f"--- stderr\n{result.stderr[-6000:]}"
            )
        return result
