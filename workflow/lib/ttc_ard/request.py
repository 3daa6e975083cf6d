"""Inbound requests: which (year, tile) pairs to build, checked against the tile DB.

A request is ``{project: {year: {"missing_tiles": [ids], "all_tiles": [...]}}}``; only
``missing_tiles`` count. Problems with single ids are reported and the valid ones go on;
a request that leaves no valid tile is an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TILE_ID = re.compile(r"(\d+)X(\d+)Y")
YEAR = re.compile(r"\d{4}")
#: Columns of the tile DB and of the tiles CSV, in the CSV's order.
CSV_COLUMNS = ["Year", "X", "Y", "Y_tile", "X_tile"]
DB_COLUMNS = ["X", "Y", "Y_tile", "X_tile"]
# X_tile * _KEY_SHIFT + Y_tile is unique while Y_tile < 2**21 (the DB's reach 1,920).
_KEY_SHIFT = 1 << 21

REASONS = {
    "malformed_id": "malformed tile id(s)",
    "bad_year": "id(s) under a year that is not a 4-digit number",
    "not_in_tiledb": "id(s) absent from the tile DB",
}


class RequestError(Exception):
    """The request cannot be used as it is; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Rejection:
    """One requested tile id that will not be built, and why."""

    reason: str
    project: str
    year: str
    tile_id: str


@dataclass(frozen=True)
class RequestTiles:
    """The valid tiles of a request (columns :data:`CSV_COLUMNS`) and what was rejected."""

    tiles: pd.DataFrame
    rejected: tuple[Rejection, ...]
    ids_read: int

    def summary(self) -> str:
        """One paragraph: counts of what was read, kept and rejected, with examples."""
        parts = [
            f"Request: {self.ids_read} tile id(s) read, {len(self.tiles)} valid (year, tile) "
            f"pair(s) to build"
        ]
        for reason, count in Counter(r.reason for r in self.rejected).items():
            examples = [f"{r.year}: {r.tile_id!r}" for r in self.rejected if r.reason == reason]
            more = ", ..." if count > 3 else ""
            parts.append(f"{count} {REASONS[reason]} ({', '.join(examples[:3])}{more})")
        return "; ".join(parts) + "."


def read_request(path: str | os.PathLike) -> dict:
    """The request JSON as a dict; a :class:`RequestError` says what is wrong with the file."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise RequestError(
            f"Cannot read the request {path}: {err.strerror}. Set the config key request to an "
            "existing JSON file (--config request=PATH)."
        ) from err
    try:
        request = json.loads(text)
    except json.JSONDecodeError as err:
        raise RequestError(
            f"The request {path} is not valid JSON: {err.msg} at line {err.lineno}, column "
            f"{err.colno}. Fix the file; it must look like "
            '{"<project>": {"<year>": {"missing_tiles": ["1655X1083Y", ...]}}}.'
        ) from err
    if not isinstance(request, dict):
        raise RequestError(
            f"The request {path} must be a JSON object of projects, not a {type(request).__name__}."
        )
    return request


def parse_request(request: dict) -> tuple[list[tuple[int, int, int]], list[Rejection], int]:
    """The distinct (year, x_tile, y_tile) pairs asked for, in order of first appearance,
    the ids rejected for their form, and how many ids were read."""
    pairs: dict[tuple[int, int, int], None] = {}
    rejected: list[Rejection] = []
    ids_read = 0
    for project, years in request.items():
        if not isinstance(years, dict):
            raise RequestError(
                f'Request project "{project}" must map years to tile lists, not hold a '
                f"{type(years).__name__}."
            )
        for year, lists in years.items():
            ids = lists.get("missing_tiles") if isinstance(lists, dict) else None
            if not isinstance(ids, list):
                raise RequestError(
                    f'Request project "{project}" -> year "{year}" has no list '
                    '"missing_tiles"; give it one (possibly empty).'
                )
            ids_read += len(ids)
            for raw in ids:
                tile_id = raw.strip() if isinstance(raw, str) else str(raw)
                match = TILE_ID.fullmatch(tile_id)
                if not YEAR.fullmatch(str(year)):
                    rejected.append(Rejection("bad_year", project, str(year), tile_id))
                elif match is None:
                    rejected.append(Rejection("malformed_id", project, str(year), tile_id))
                else:
                    pairs[(int(year), int(match[1]), int(match[2]))] = None
    return list(pairs), rejected, ids_read


def lookup_tiles(
    pairs: list[tuple[int, int, int]], tiledb_path: str | os.PathLike
) -> tuple[pd.DataFrame, list[Rejection]]:
    """The tile DB rows of ``pairs`` (columns :data:`CSV_COLUMNS`), and the pairs it lacks.

    Reads the DB's four columns and keeps the requested rows with one vectorised test.
    """
    wanted = pd.DataFrame(pairs, columns=["Year", "X_tile", "Y_tile"], dtype="int64")
    if not Path(tiledb_path).is_file():
        raise RequestError(
            f"The tile DB {tiledb_path} does not exist. Set the config key tiledb to the tile "
            "DB parquet file (--config tiledb=PATH)."
        )
    try:
        table = pq.read_table(tiledb_path, columns=DB_COLUMNS)
    except Exception as err:  # pyarrow raises several types for a bad file or schema
        raise RequestError(
            f"Cannot read the tile DB {tiledb_path} as a parquet file with columns "
            f"{', '.join(DB_COLUMNS)}: {err}. Set the config key tiledb to the tile DB."
        ) from err
    # One vectorised membership test on a combined key: parquet "in" filters with thousands
    # of values cost more than reading the four columns whole (bench/tile_lookup.py).
    key = pc.add(pc.multiply(table["X_tile"], _KEY_SHIFT), table["Y_tile"])
    wanted_keys = pa.array(wanted.X_tile.to_numpy() * _KEY_SHIFT + wanted.Y_tile.to_numpy())
    table = table.filter(pc.is_in(key, value_set=wanted_keys))
    found = wanted.merge(
        table.to_pandas().drop_duplicates(["X_tile", "Y_tile"]), on=["X_tile", "Y_tile"], how="left"
    )
    absent = found.X.isna()
    rejected = [
        Rejection("not_in_tiledb", "", str(year), f"{x}X{y}Y")
        for year, x, y in found.loc[absent, ["Year", "X_tile", "Y_tile"]].itertuples(index=False)
    ]
    tiles = found.loc[~absent, CSV_COLUMNS].sort_values(["Year", "X_tile", "Y_tile"])
    return tiles.reset_index(drop=True), rejected


def load_request_tiles(
    request_path: str | os.PathLike, tiledb_path: str | os.PathLike
) -> RequestTiles:
    """Parse the request and look its tiles up; no valid tile at all is an error."""
    pairs, rejected, ids_read = parse_request(read_request(request_path))
    tiles, absent = lookup_tiles(pairs, tiledb_path) if pairs else (pd.DataFrame(), [])
    result = RequestTiles(tiles.reindex(columns=CSV_COLUMNS), tuple(rejected + absent), ids_read)
    if result.tiles.empty:
        raise RequestError(
            f"The request {request_path} has no tile to build. {result.summary()} Fix the ids "
            "or the years, or check that tiledb points at the right tile DB."
        )
    return result


def write_tiles_csv(tiles: pd.DataFrame, out: str | os.PathLike | TextIO) -> None:
    """The tiles in the old CSV format; a path is replaced atomically."""
    if not isinstance(out, str | os.PathLike):
        tiles.to_csv(out, columns=CSV_COLUMNS, index=False)
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", newline="") as stream:
            tiles.to_csv(stream, columns=CSV_COLUMNS, index=False)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """``handle-inbound-request request.json --parquet DB [-o out.csv]``: the tiles CSV of a
    request, to stdout unless ``-o`` is given; the summary goes to stderr."""
    parser = argparse.ArgumentParser(
        prog="handle-inbound-request", description="Write the valid tiles of a request as CSV."
    )
    parser.add_argument("request", help="inbound request JSON")
    parser.add_argument("--parquet", required=True, help="tile DB parquet file")
    parser.add_argument("-o", "--output", help="CSV file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        request = load_request_tiles(args.request, args.parquet)
    except RequestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(request.summary(), file=sys.stderr)
    write_tiles_csv(request.tiles, args.output or sys.stdout)
    return 0
