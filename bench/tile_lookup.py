"""How long the request -> tiles lookup takes on the full tile DB, beside reading it whole.

    .venv/bin/python bench/tile_lookup.py [--tiledb ../shared/data/tiledb.parquet]

Prints, for requests of 4, 1,000 and 10,000 tiles drawn from the DB, the time of
ttc_ard.request.lookup_tiles (four columns, key membership test, join) and of a plain full read
of the DB, and their ratio. Median of 5 runs each.
"""

import argparse
from pathlib import Path

import pyarrow.parquet as pq
from timing import median_seconds

from ttc_ard.request import lookup_tiles

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiledb", default=str(REPO.parent / "shared/data/tiledb.parquet"))
    args = parser.parse_args()
    db = pq.read_table(args.tiledb, columns=["X_tile", "Y_tile"]).to_pandas()
    full_read = median_seconds(lambda: pq.read_table(args.tiledb).to_pandas(), repeat=5)
    print(f"full read of {len(db):,} rows: {full_read:.3f} s")
    for size in (4, 1_000, 10_000):
        sample = db.sample(size, random_state=0)
        pairs = [(2023, x, y) for x, y in zip(sample.X_tile, sample.Y_tile, strict=True)]
        lookup = median_seconds(lambda pairs=pairs: lookup_tiles(pairs, args.tiledb), repeat=5)
        print(
            f"lookup of {size:>6,} tiles: {lookup:.3f} s ({lookup / full_read:.2f} x a full read)"
        )


if __name__ == "__main__":
    main()
