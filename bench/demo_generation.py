"""Demo archive generation: peak memory and time per request, side by side.

    .venv/bin/python bench/demo_generation.py

(Not ``bench/demo_archive.py``: run as a script, a file of that name would shadow the
``demo_archive`` package for every script in this folder.)

Each request's archive (the DEM cells, the Sentinel-1 scenes and the Sentinel-2 scenes of one
year over its tiles, as the workflow's local rules make them) is generated into an empty
folder by a fresh Python process with one worker, so the peak resident memory (VmHWM) and the
CPU time are the generator's own (wall time depends on what else the machine runs). The
target: any request of up to 10 tiles under 2 GB, wherever its tiles are.

1. Compact: the four demo tiles (Ghana).
2. Two continents: the four demo tiles and four tiles in Madagascar, some 6,000 km away.
3. Antimeridian: the tile whose east edge is the 180th meridian (Fiji).

A request that fails (a memory cap, an exception) is reported with its last error line; the
numbers of the code before a change can be taken with ``PYTHONPATH=<old tree>/src`` under a
cap such as ``prlimit --as=6000000000``.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from loaders.tiles import TILE_HALF_WIDTH_DEG

YEAR = 2023
TARGET_MB = 2048
#: The four demo tiles (config/requests/demo.json), centres as the tile DB stores them.
GHANA = [(-1.6944, 6.6389), (-1.6389, 6.6389), (-1.6944, 6.6944), (-1.6389, 6.6944)]
#: Four neighbouring tiles near Antananarivo, on the same 1/18 degree grid.
MADAGASCAR = [(47.4722, -18.9167), (47.5278, -18.9167), (47.4722, -18.8611), (47.5278, -18.8611)]
#: The tile whose east edge is 180 E, in Fiji.
FIJI = [(180 - TILE_HALF_WIDTH_DEG, -18.0833)]
REQUESTS = {
    "compact (4 demo tiles)": GHANA,
    "two continents (4 Ghana + 4 Madagascar)": GHANA + MADAGASCAR,
    "antimeridian (1 tile, east edge 180)": FIJI,
}

_CHILD = """
import json, resource, sys
from pathlib import Path
from demo_archive.dem import write_dem_cell
from demo_archive.s1 import write_s1_archive
from demo_archive.s2 import write_s2_archive
from loaders.copdem import cell_id, cells_covering
from loaders.tiles import tile_bbox

root, year, centres = Path(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
# The DEM cells a tile's slope reads: its box and a source pixel around it.
cells = {c for lon, lat in centres for c in cells_covering(tile_bbox(lon, lat).buffered(1 / 360))}
for cell in sorted(cells):
    name = cell_id(*cell)
    write_dem_cell(*cell, root / f"copernicus-dem-30m/{name}/{name}.tif",
                   root / f"stac/cop-dem-glo-30/{name}.json")
s1 = write_s1_archive(root, year, centres)
s2 = write_s2_archive(root, year, centres)
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"dem_cells": len(cells), "s1_scenes": s1["scenes"], "s2_scenes": s2["scenes"],
                  "s2_granules": len(s2["granules_written"]),
                  "peak_mb": int(hwm.split()[1]) // 1024,
                  "cpu": usage.ru_utime + usage.ru_stime}))
"""


def generate_in_fresh_process(centres: list[tuple[float, float]]) -> dict:
    """Generate the archive of ``centres`` for :data:`YEAR` in a new process and an empty
    folder: the child's counts, ``peak_mb`` and ``cpu`` seconds, with the ``wall`` seconds
    (process start included), or its ``error``."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, f"{scratch}/archive", str(YEAR), json.dumps(centres)],
            cwd=scratch,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
    if child.returncode != 0:
        lines = child.stderr.strip().splitlines() or [f"exit status {child.returncode}"]
        return {"error": lines[-1], "wall": wall}
    return json.loads(child.stdout.splitlines()[-1]) | {"wall": wall}


def report(name: str, run: dict) -> str:
    if "error" in run:
        return f"{name:42s} FAILED after {run['wall']:.0f} s: {run['error'][:160]}"
    verdict = "< 2 GB" if run["peak_mb"] < TARGET_MB else ">= 2 GB"
    return (
        f"{name:42s} peak {run['peak_mb']:6d} MB ({verdict}), {run['wall']:4.0f} s wall, "
        f"{run['cpu']:4.0f} s CPU; "
        f"{run['dem_cells']} DEM cells, {run['s1_scenes']} S1 scenes, "
        f"{run['s2_scenes']} S2 scenes in {run['s2_granules']} granules"
    )


def main() -> None:
    print(f"demo archive of {YEAR}, one worker, PYTHONPATH={os.environ.get('PYTHONPATH', '')!r}")
    for name, centres in REQUESTS.items():
        print(report(name, generate_in_fresh_process(centres)), flush=True)


if __name__ == "__main__":
    main()
