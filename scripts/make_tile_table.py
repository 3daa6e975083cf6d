"""Make the small tile table shipped as config/tiles.parquet from the full tile DB.

    python scripts/make_tile_table.py --parquet /path/to/tiledb.parquet -o config/tiles.parquet

The full DB must not be copied into the repository; the demo and the tests need only a few
of its rows. They are chosen by rules, so that the table can be remade from any DB version,
and "nearest" always means nearest (centre to centre, in degrees) to the first demo tile
1655X1083Y, so that the DEM cells and scenes a test needs stay few. The groups:

- requests: every tile id in the sample requests (config/requests/, tests/data/requests/),
  under missing_tiles and under all_tiles alike: the demo, the request tests and the old
  tool must find them all (99999X99999Y is meant to be absent).
- block: X_tile 1654..1658 x Y_tile 1082..1086 around the demo tiles 1655X1083Y..1656X1084Y,
  for tests of neighbours and of requests larger than the samples.
- integer longitude: the nearest tile whose west edge and the nearest whose east edge lies
  within 1e-3 degree of an integer longitude (a Copernicus DEM cell edge; as the grid is
  regular near the demo, the two face each other across one line): DEM mosaics.
- integer latitude: the same for south and north edges and integer latitudes.
- UTM boundary: the nearest tile whose box touches a longitude multiple of 6 (an edge
  within 1e-3 degree) and the nearest whose box straddles one (the boundary inside the box
  by more than 1e-3 degree; the grid has regional origins, so such tiles exist): granules
  from two UTM zones, one output CRS per tile.
- north of 50N: the nearest tile whose box lies wholly north of 50N (Copernicus cells there
  have fewer than 3600 columns).
- south of the equator: the nearest tile whose box lies wholly south of it (S cell names).
- antimeridian: the nearest tile whose east edge lies on 180 degrees east (its grid reaches
  past 180: DEM cells on both sides, scenes and granules split there).

Tile box = centre +- 1/36 degree, as in loaders/tiles.py. The output has the DB's columns,
order and types, no index, rows sorted like the DB (Y_tile, then X_tile).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
# Runs from a checkout without installing it, from any working directory.
sys.path[:0] = [str(REPO / "src")]

from loaders.tiles import TILE_HALF_WIDTH_DEG as HALF  # noqa: E402
from ttc_ard.request import DB_COLUMNS, TILE_ID  # noqa: E402

REQUEST_DIRS = [REPO / "config/requests", REPO / "tests/data/requests"]
REFERENCE = (1655, 1083)  # (X_tile, Y_tile) of the first demo tile
BLOCK_X = range(1654, 1659)
BLOCK_Y = range(1082, 1087)
EDGE_TOLERANCE = 1e-3  # degrees; the DB's centres are rounded to 1e-4 degree
UTM_ZONE_WIDTH = 6


def requested_tiles(folders: list[Path]) -> set[tuple[int, int]]:
    """(X_tile, Y_tile) of every well-formed id in the requests in ``folders``."""
    found = set()
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            for years in json.loads(path.read_text()).values():
                for lists in years.values():
                    for tile_id in lists.get("missing_tiles", []) + lists.get("all_tiles", []):
                        if match := TILE_ID.fullmatch(str(tile_id).strip()):
                            found.add((int(match[1]), int(match[2])))
    return found


def on_line(values: pd.Series, step: float) -> pd.Series:
    """Whether each value lies within the tolerance of a multiple of ``step``."""
    return np.abs(values - np.round(values / step) * step) < EDGE_TOLERANCE


def straddles(low: pd.Series, high: pd.Series, step: float) -> pd.Series:
    """Whether a multiple of ``step`` lies inside (low, high) by more than the tolerance."""
    return np.floor((high - EDGE_TOLERANCE) / step) * step > low + EDGE_TOLERANCE


def nearest(db: pd.DataFrame, mask: pd.Series, reference: pd.Series) -> pd.DataFrame:
    """The row of ``db[mask]`` nearest to ``reference``; ties go to the lower X_tile, Y_tile."""
    rows = db[mask]
    distance = np.hypot(rows.X - reference.X, rows.Y - reference.Y)
    ordered = rows.assign(distance=distance).sort_values(["distance", "X_tile", "Y_tile"])
    return ordered.head(1).drop(columns="distance")


def select(db: pd.DataFrame, requested: set[tuple[int, int]]) -> dict[str, pd.DataFrame]:
    """The rows of each group of the module docstring, by group name."""
    tiles = pd.MultiIndex.from_arrays([db.X_tile, db.Y_tile])
    block = {(x, y) for x in BLOCK_X for y in BLOCK_Y}
    reference = db[tiles.isin([REFERENCE])].iloc[0]
    west, east, south, north = db.X - HALF, db.X + HALF, db.Y - HALF, db.Y + HALF
    conditions = {
        "integer longitude": [on_line(west, 1), on_line(east, 1)],
        "integer latitude": [on_line(south, 1), on_line(north, 1)],
        "UTM boundary": [
            on_line(west, UTM_ZONE_WIDTH) | on_line(east, UTM_ZONE_WIDTH),
            straddles(west, east, UTM_ZONE_WIDTH),
        ],
        "north of 50N": [south > 50 + EDGE_TOLERANCE],
        "south of the equator": [north < -EDGE_TOLERANCE],
        "antimeridian": [np.abs(east - 180) < EDGE_TOLERANCE],
    }
    groups = {
        "requests": db[tiles.isin(sorted(requested))],
        "block": db[tiles.isin(sorted(block))],
    }
    for name, masks in conditions.items():
        groups[name] = pd.concat([nearest(db, mask, reference) for mask in masks])
    return groups


def tile_table(groups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The union of the groups, one row per tile, sorted like the DB."""
    table = pd.concat(groups.values()).drop_duplicates(["X_tile", "Y_tile"])
    return table.sort_values(["Y_tile", "X_tile"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parquet", required=True, help="the full tile DB")
    parser.add_argument(
        "-o", "--output", default=str(REPO / "config/tiles.parquet"), help="the table to write"
    )
    args = parser.parse_args()
    schema = pq.read_schema(args.parquet)
    db = pq.read_table(args.parquet, columns=DB_COLUMNS).to_pandas()
    requested = requested_tiles(REQUEST_DIRS)
    groups = select(db, requested)
    for name, rows in groups.items():
        print(f"{name}: {len(rows)} tile(s)", file=sys.stderr)
    found = set(zip(groups["requests"].X_tile, groups["requests"].Y_tile, strict=True))
    for x_tile, y_tile in sorted(requested - found):
        print(f"requested but not in the DB: {x_tile}X{y_tile}Y", file=sys.stderr)
    table = tile_table(groups)
    # The DB's own column order and types, and no pandas index.
    columns = pa.schema([field for field in schema if field.name in DB_COLUMNS])
    pq.write_table(pa.Table.from_pandas(table, schema=columns, preserve_index=False), args.output)
    print(f"wrote {len(table)} tiles to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
