"""What the workflow adds to running DEM calls: Snakemake with the lithops executor beside a
direct Lithops ``map`` of the same job specs, side by side in one run.

    .venv/bin/python bench/orchestration.py [--tiles 1000]

``--tiles`` tiles of a 1/18 degree block beside the demo tiles (a generated tile table; their
DEM cells are written into the demo archive first, outside the timing), then, each into a
destination of its own, on Lithops' localhost backend with its default worker count:

- the workflow: ``snakemake --cores 2`` of a request for those tiles, products ``[dem]``;
- the floor: one ``FunctionExecutor.map`` of ``loaders.jobs.run_job`` over the same specs
  (the workflow's ``loader_spec`` for the demo source), waiting for them all.

Prints both wall times and their ratio (the scale issue's goal: <= 1.2x), and how long a
status read of all the calls takes while they run: the non-blocking ``wait`` over every
future that the executor's ``check_active_jobs`` makes per cycle.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lithops
import pandas as pd
from lithops.wait import ALWAYS

from demo_archive.dem import write_dem_cell
from loaders.copdem import parse_cell_id
from loaders.dem_source import tile_cells
from loaders.grid import tile_grid
from loaders.jobs import run_job
from loaders.tiles import Tile
from snakemake_executor_plugin_lithops.lithops_config import load_lithops_config
from ttc_ard.keys import key_patterns, record_pattern
from ttc_ard.sources import demo_source_settings

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "resources/demo_archive"
LITHOPS_CONFIG = REPO / "config/lithops/localhost.yaml"
REGIONS = ("eu-central-1", "us-west-2")
#: Seconds between the direct map's status reads.
STATUS_INTERVAL_S = 5
YEAR = 2023
#: The first demo tile: the block grows east and north from it, on its lattice.
ORIGIN = Tile(YEAR, 1655, 1083, -1.6944, 6.6389)


def block_tiles(count: int) -> list[Tile]:
    side = math.ceil(math.sqrt(count))
    return [
        Tile(
            YEAR,
            ORIGIN.x_tile + i % side,
            ORIGIN.y_tile + i // side,
            round(ORIGIN.lon + (i % side) / 18, 4),
            round(ORIGIN.lat + (i // side) / 18, 4),
        )
        for i in range(count)
    ]


def write_dem_cells(tiles: list[Tile]) -> None:
    cells = sorted({cell for tile in tiles for cell in tile_cells(tile_grid(tile))})
    for cell in cells:
        tif = ARCHIVE / "copernicus-dem-30m" / cell / f"{cell}.tif"
        if not tif.exists():
            tif.parent.mkdir(parents=True, exist_ok=True)
            item = ARCHIVE / "stac/cop-dem-glo-30" / f"{cell}.json"
            item.parent.mkdir(parents=True, exist_ok=True)
            write_dem_cell(*parse_cell_id(cell), tif, item)


def spec(tile: Tile, dest: Path) -> dict:
    keys = {"year": tile.year, "x_tile": tile.x_tile, "y_tile": tile.y_tile}
    return {
        "product": "dem",
        "tile": keys | {"lon": tile.lon, "lat": tile.lat},
        "outputs": {
            name: str(dest / pattern.format(**keys))
            for name, pattern in key_patterns("dem").items()
        },
        "qa": str(dest / record_pattern("dem").format(**keys)),
    } | demo_source_settings("dem", str(ARCHIVE))


def through_workflow(tiles: list[Tile], folder: Path) -> float:
    table = pd.DataFrame(
        {
            "X": [t.lon for t in tiles],
            "Y": [t.lat for t in tiles],
            "Y_tile": [t.y_tile for t in tiles],
            "X_tile": [t.x_tile for t in tiles],
        }
    )
    table.to_parquet(folder / "tiles.parquet", index=False)
    ids = [t.tag for t in tiles]
    (folder / "request.json").write_text(json.dumps({"bench": {str(YEAR): {"missing_tiles": ids}}}))
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile", str(REPO / "Snakefile"),
        "--configfile", str(REPO / "config/config.yaml"),
        "--workflow-profile", str(REPO / "profiles/default"),
        "--cores", "2",
        "--config",
        f"request={folder / 'request.json'}",
        f"tiledb={folder / 'tiles.parquet'}",
        f"demo_archive={ARCHIVE}",
        f"dest={folder / 'ard'}",
        "products=[dem]",
        "budget_usd=1000",
        f"lithops_config={json.dumps({r: str(LITHOPS_CONFIG) for r in REGIONS})}",
    ]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the workflow failed:\n{result.stderr[-3000:]}")
    return seconds


def direct_map(tiles: list[Tile], folder: Path) -> tuple[float, list[float]]:
    """Wall seconds of the map, and of each status read made every few seconds until every
    call is done (the executor's check cycle reads them so, at most once a second)."""
    fexec = lithops.FunctionExecutor(config=load_lithops_config(str(LITHOPS_CONFIG)))
    started = time.perf_counter()
    futures = fexec.map(run_job, [(spec(tile, folder / "ard"),) for tile in tiles])
    status_reads = []
    while not all(future.done or future.ready for future in futures):
        time.sleep(STATUS_INTERVAL_S)
        read_started = time.perf_counter()
        fexec.wait(futures, throw_except=False, return_when=ALWAYS, show_progressbar=False)
        status_reads.append(time.perf_counter() - read_started)
    seconds = time.perf_counter() - started
    fexec.clean()
    return seconds, status_reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=1000)
    arguments = parser.parse_args()
    tiles = block_tiles(arguments.tiles)
    write_dem_cells(tiles)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "workflow").mkdir()
        (Path(scratch) / "direct").mkdir()
        workflow = through_workflow(tiles, Path(scratch) / "workflow")
        direct, status_reads = direct_map(tiles, Path(scratch) / "direct")
    print(f"{len(tiles)} DEM calls on Lithops localhost")
    print(f"  Snakemake + lithops executor: {workflow:7.1f} s")
    print(f"  direct Lithops map:           {direct:7.1f} s")
    print(f"  ratio:                        {workflow / direct:7.2f}x (goal <= 1.2x)")
    print(
        f"  status read of all {len(tiles)} calls: median "
        f"{statistics.median(status_reads) * 1000:.0f} ms, worst {max(status_reads) * 1000:.0f} ms "
        f"({len(status_reads)} reads, every {STATUS_INTERVAL_S} s while calls ran)"
    )


if __name__ == "__main__":
    main()
