"""Make the small tile table shipped in config/tiles.parquet from the full tile DB.

    python scripts/make_tile_table.py --parquet /path/to/tiledb.parquet -o config/tiles.parquet

The full DB may not be redistributed; the shipped table holds only the rows the demo and the
tests need, chosen by the rules below so that the table can be remade from any DB version:
- every tile id in the sample requests (config/requests/, tests/data/requests/), also
  under all_tiles, and the 5 x 5 block around the demo tiles (X_tile 1654-1658,
  Y_tile 1082-1086), for the demo and neighbourhood tests;
- per edge case, the tiles nearest the demo tiles whose box edge lies within 1e-3 degree of
  an integer longitude, of an integer latitude, and of a UTM zone boundary (a longitude
  multiple of 6): DEM mosaics and zone-edge Sentinel-2 tiles;
- the tile nearest the demo north of 50N (Copernicus cells with fewer columns) and the one
  nearest south of the equator.
Nearest, so that the demo archive for all of them stays small.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
REQUEST_DIRS = [REPO / "config/requests", REPO / "tests/data/requests"]
HALF = 1 / 36
EDGE_TOLERANCE = 1e-3
PER_CASE = 2
DEMO_CENTRE = (-1.6667, 6.6667)


def requested_ids() -> set[tuple[int, int]]:
    """(X_tile, Y_tile) of every id in the sample requests."""
    ids = set()
    for folder in REQUEST_DIRS:
        for path in sorted(folder.glob("*.json")):
            for years in json.loads(path.read_text()).values():
                for lists in years.values():
                    for key in ("missing_tiles", "all_tiles"):
                        for tile_id in lists.get(key, []):
                            x, _, rest = tile_id.strip().partition("X")
                            if x.isdigit() and rest[:-1].isdigit() and rest.endswith("Y"):
                                ids.add((int(x), int(rest[:-1])))
    return ids


def near_multiple(values: pd.Series, step: float) -> pd.Series:
    return (np.abs(values / step - np.round(values / step)) * step) < EDGE_TOLERANCE


def edge_cases(db: pd.DataFrame) -> pd.DataFrame:
    """The first rows of each edge case, as the module docstring lists them."""
    distance = np.hypot(db.X - DEMO_CENTRE[0], db.Y - DEMO_CENTRE[1])
    ordered = db.assign(distance=distance).sort_values(["distance", "X_tile", "Y_tile"])
    band = ordered[(ordered.Y > 5) & (ordered.Y < 12)]
    west, east = band.X - HALF, band.X + HALF
    south, north = band.Y - HALF, band.Y + HALF
    cases = [
        band[near_multiple(west, 1) | near_multiple(east, 1)],
        band[near_multiple(south, 1) | near_multiple(north, 1)],
        band[near_multiple(west, 6) | near_multiple(east, 6)],
    ]
    cases += [ordered[ordered.Y - HALF > 50], ordered[ordered.Y + HALF < 0]]
    picked = [case.head(PER_CASE if i < 3 else 1) for i, case in enumerate(cases)]
    return pd.concat(picked).drop(columns="distance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parquet", required=True, help="the full tile DB")
    parser.add_argument("-o", "--output", required=True, help="the small table to write")
    args = parser.parse_args()
    db = pq.read_table(args.parquet, columns=["X", "Y", "Y_tile", "X_tile"]).to_pandas()
    pairs = pd.MultiIndex.from_arrays([db.X_tile, db.Y_tile])
    block = {(x, y) for x in range(1654, 1659) for y in range(1082, 1087)}
    chosen = db[pairs.isin(sorted(requested_ids() | block))]
    table = (
        pd.concat([chosen, edge_cases(db)])
        .drop_duplicates(["X_tile", "Y_tile"])
        .sort_values(["X_tile", "Y_tile"])
        .reset_index(drop=True)
    )
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), args.output)
    print(f"wrote {len(table)} tiles to {args.output}")


if __name__ == "__main__":
    main()
