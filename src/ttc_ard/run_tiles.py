"""This run's tiles, for the workflow's planning process.

The request is read and looked up in the tile DB by a child process (``python -m
ttc_ard.run_tiles``), which hands back only the run's tiles as plain data: the planning
process then builds its DAG without pandas, pyarrow and the pages of the tile-DB read
(~100 MB it would otherwise hold to the end, beside a DAG of 10,000 tiles' jobs). This module
imports neither.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

#: Exit status of the child for a request or tile DB that cannot be used.
REFUSED = 3


class RunTilesError(Exception):
    """The run's tiles cannot be had; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class RunTiles:
    """The tiles a run builds: the request's valid tiles, or one batch of them."""

    summary: str
    """The request's summary, and the batch's share of it when there is a batch."""
    request_tiles: int
    """Valid (year, tile) pairs of the whole request."""
    centres: dict[tuple[int, int, int], tuple[float, float]]
    """(year, x_tile, y_tile) -> tile centre (lon, lat), sorted by year, x_tile, y_tile."""


def load_run_tiles(
    request_path: str | os.PathLike,
    tiledb_path: str | os.PathLike,
    batch: str,
    products: list[str],
    this_year: int,
) -> RunTiles:
    """The tiles of ``batch`` (``"i/n"``, or ``""`` for all) of the request, looked up in the
    tile DB; refuses years without data for ``products`` (:func:`ttc_ard.request.check_years`)."""
    arguments = {
        "request": os.fspath(request_path),
        "tiledb": os.fspath(tiledb_path),
        "batch": batch,
        "products": products,
        "this_year": this_year,
    }
    child = subprocess.run(
        [sys.executable, "-m", "ttc_ard.run_tiles", json.dumps(arguments)],
        capture_output=True,
        text=True,
    )
    if child.returncode == REFUSED:
        raise RunTilesError(child.stderr.strip())
    if child.returncode != 0:
        raise RunTilesError(
            f"Looking up the tiles of the request {request_path} in the tile DB {tiledb_path} "
            f"failed (exit status {child.returncode}), which is a bug of ttc-ard: please report "
            f"it with this output.\n{child.stderr.strip()}"
        )
    found = json.loads(child.stdout)
    return RunTiles(
        summary=found["summary"],
        request_tiles=found["request_tiles"],
        centres={(year, x, y): (lon, lat) for year, x, y, lon, lat in found["tiles"]},
    )


def main() -> int:
    """The child's side of :func:`load_run_tiles`: its arguments as one JSON object, the run's
    tiles as JSON on stdout, or a refusal on stderr with exit status :data:`REFUSED`."""
    # Imported here: the planning process, which imports this module, must not hold them.
    from ttc_ard.request import RequestError, batch_of, check_years, load_request_tiles

    arguments = json.loads(sys.argv[1])
    try:
        request = load_request_tiles(arguments["request"], arguments["tiledb"])
        check_years(set(request.tiles["Year"]), arguments["products"], arguments["this_year"])
        tiles = batch_of(request.tiles, arguments["batch"])
    except RequestError as err:
        print(err, file=sys.stderr)
        return REFUSED
    summary = request.summary()
    if arguments["batch"]:
        summary += f" Batch {arguments['batch']}: {len(tiles)} of these tiles."
    rows = tiles[["Year", "X_tile", "Y_tile", "X", "Y"]].itertuples(index=False)
    json.dump(
        {
            "summary": summary,
            "request_tiles": len(request.tiles),
            # Python's float repr, which json writes, reads back as the same double.
            "tiles": [[int(year), int(x), int(y), lon, lat] for year, x, y, lon, lat in rows],
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
