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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# re.ASCII: \d would otherwise accept other scripts' digits, which no tile id uses.
TILE_ID = re.compile(r"(\d+)X(\d+)Y", re.ASCII)
YEAR = re.compile(r"\d{4}", re.ASCII)
#: Columns of the tiles CSV and of :attr:`RequestTiles.tiles`, in this order.
CSV_COLUMNS = ["Year", "X", "Y", "Y_tile", "X_tile"]
#: Columns read from the tile DB.
DB_COLUMNS = ["X", "Y", "Y_tile", "X_tile"]
_DTYPES = {"Year": "int64", "X": "float64", "Y": "float64", "Y_tile": "int64", "X_tile": "int64"}
# Multiplier of the combined key X_tile * _KEY_SHIFT + Y_tile used to pre-filter the DB.
# Collisions (Y_tile >= 2**21, int64 wrap-around) only let extra rows through the filter;
# the join on (X_tile, Y_tile) that follows is exact.
_KEY_SHIFT = 1 << 21
_INT64_MAX = np.iinfo(np.int64).max
#: How many examples of each rejection reason the summary names.
EXAMPLES = 3
#: Rejected ids kept per reason, besides their count: a request of a million ids that are
#: mostly wrong must not hold a record of each.
REJECTIONS_KEPT = 1000

#: Rejection reasons, in summary order, with their (singular, plural) descriptions.
REASONS = {
    "malformed_id": ("malformed id", "malformed ids"),
    "bad_year": ("id under a year that is not 4 digits", "ids under a year that is not 4 digits"),
    "not_in_tiledb": ("id absent from the tile DB", "ids absent from the tile DB"),
}
_SHAPE = '{"<project>": {"<year>": {"missing_tiles": ["1655X1083Y", ...]}}}'


class RequestError(Exception):
    """The request cannot be used as it is; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Rejection:
    """One requested tile id that will not be built, and why (a key of :data:`REASONS`)."""

    reason: str
    project: str
    year: str
    tile_id: str


@dataclass(frozen=True)
class RequestTiles:
    """The valid tiles of a request (columns :data:`CSV_COLUMNS`) and what was rejected.

    ``ids_read`` counts the ids listed under ``missing_tiles``, duplicates included; when
    not given it is taken as the number of valid pairs plus rejections.
    """

    tiles: pd.DataFrame
    rejected: tuple[Rejection, ...]
    """The first :data:`REJECTIONS_KEPT` rejected ids of each reason."""
    ids_read: int | None = None
    rejected_counts: Mapping[str, int] | None = None
    """How many distinct ids each reason rejected; when not given, those of ``rejected``."""

    def counts(self) -> Counter:
        """Rejected ids by reason."""
        if self.rejected_counts is not None:
            return Counter(self.rejected_counts)
        return Counter(r.reason for r in self.rejected)

    def summary(self) -> str:
        """One paragraph: how many ids were read, kept and rejected, with examples."""
        counts = self.counts()
        read = len(self.tiles) + counts.total() if self.ids_read is None else self.ids_read
        text = (
            f"Request: {_plural(read, 'tile id', 'tile ids')} read, "
            f"{_plural(len(self.tiles), 'valid (year, tile) pair', 'valid (year, tile) pairs')} "
            "to build"
        )
        parts = []
        for reason, (singular, plural) in REASONS.items():
            if counts[reason]:
                matching = [r for r in self.rejected if r.reason == reason][:EXAMPLES]
                examples = [f"{_show_year(r.year)}: {_show_id(r.tile_id)}" for r in matching]
                more = ", ..." if counts[reason] > EXAMPLES else ""
                listed = ", ".join(examples) + more
                parts.append(f"{_plural(counts[reason], singular, plural)} ({listed})")
        return f"{text}; rejected: {'; '.join(parts)}." if parts else f"{text}; none rejected."


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


# Text that failed validation is quoted so that blanks and odd characters show.
def _show_id(tile_id: str) -> str:
    return tile_id if TILE_ID.fullmatch(tile_id) else repr(tile_id)


def _show_year(year: str) -> str:
    return year if YEAR.fullmatch(year) else repr(year)


def read_request(path: str | os.PathLike) -> dict:
    """The request JSON as a dict; a :class:`RequestError` says what is wrong with the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        why = err.strerror if isinstance(err, OSError) else "it is not UTF-8 text"
        raise RequestError(
            f"Cannot read the request {path}: {why}. Point the tool (or the workflow's config "
            "key request, --config request=PATH) at a readable JSON file."
        ) from err
    if not text.strip():
        raise RequestError(f"The request {path} is empty; it must look like {_SHAPE}.")
    try:
        request = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise RequestError(
            f"The request {path} is not valid JSON: {err.msg} at line {err.lineno}, column "
            f"{err.colno}. Fix the file; it must look like {_SHAPE}."
        ) from err
    except _DuplicateKey as err:
        raise RequestError(
            f'The request {path} has the key "{err.args[0]}" twice in one object; JSON keeps '
            "only the last, which would drop the first's tiles. Merge the two entries."
        ) from None
    if not isinstance(request, dict):
        raise RequestError(
            f"The request {path} must be a JSON object of projects, not a "
            f"{_json_type(request)}; it must look like {_SHAPE}."
        )
    return request


class _DuplicateKey(ValueError):
    pass


def _unique_keys(items: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in items]
    if len(set(keys)) < len(keys):
        raise _DuplicateKey(next(key for key in keys if keys.count(key) > 1))
    return dict(items)


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


@dataclass
class _Parsed:
    """What :func:`parse_request` returns, plus what :func:`load_request_tiles` also needs."""

    #: (year, x_tile, y_tile) -> the first project that asked for it, in order of appearance.
    pairs: dict[tuple[int, int, int], str]
    rejected: list[Rejection]
    """The first :data:`REJECTIONS_KEPT` of each reason."""
    ids_read: int
    rejected_counts: Counter


def _parse(request: dict) -> _Parsed:
    if not isinstance(request, dict):
        raise RequestError(
            f"A request must be a JSON object of projects, not a {_json_type(request)}."
        )
    parsed = _Parsed({}, [], 0, Counter())
    # Rejections are kept once per (reason, year, id), as valid pairs are, with the first project.
    seen: set[tuple[str, str, str]] = set()
    for project, years in request.items():
        project = str(project)  # JSON keys are strings; a dict built in Python may differ
        if not isinstance(years, dict):
            raise RequestError(
                f'Request project "{project}" must be an object of years, not a '
                f"{_json_type(years)}; each project looks like "
                '{"2023": {"missing_tiles": [...]}}.'
            )
        for key, lists in years.items():
            year, year_ok = str(key), isinstance(key, str) and YEAR.fullmatch(key) is not None
            ids = lists.get("missing_tiles") if isinstance(lists, dict) else None
            if not isinstance(ids, list):
                raise RequestError(
                    f'Request project "{project}" → year "{year}" has no list "missing_tiles"; '
                    'give it one (possibly empty), e.g. {"missing_tiles": ["1655X1083Y"]}.'
                )
            parsed.ids_read += len(ids)
            for raw in ids:
                # A non-string entry is shown as it is written in the JSON.
                tile_id = raw.strip() if isinstance(raw, str) else json.dumps(raw)
                match = TILE_ID.fullmatch(tile_id)
                if not year_ok:
                    reason = "bad_year"
                elif match is None:
                    reason = "malformed_id"
                else:
                    parsed.pairs.setdefault((int(year), int(match[1]), int(match[2])), project)
                    continue
                if (reason, year, tile_id) not in seen:
                    seen.add((reason, year, tile_id))
                    parsed.rejected_counts[reason] += 1
                    if parsed.rejected_counts[reason] <= REJECTIONS_KEPT:
                        parsed.rejected.append(Rejection(reason, project, year, tile_id))
    return parsed


def parse_request(request: dict) -> tuple[list[tuple[int, int, int]], list[Rejection]]:
    """The distinct (year, x_tile, y_tile) pairs under ``missing_tiles``, in order of first
    appearance, and the ids rejected for their form or their year."""
    parsed = _parse(request)
    return list(parsed.pairs), parsed.rejected


def _check_tiledb(tiledb_path: str | os.PathLike) -> None:
    fix = "Set the config key tiledb to the tile DB parquet file (--config tiledb=PATH)."
    if not Path(tiledb_path).is_file():
        raise RequestError(f"The tile DB {tiledb_path} does not exist or is not a file. {fix}")
    try:
        schema = pq.read_schema(tiledb_path)
    except (OSError, pa.ArrowException) as err:
        raise RequestError(
            f"Cannot read the tile DB {tiledb_path} as parquet: {err}. {fix}"
        ) from err
    expected = {"X": pa.types.is_floating, "Y": pa.types.is_floating}
    expected |= {"X_tile": pa.types.is_integer, "Y_tile": pa.types.is_integer}
    wrong = [
        name
        for name, is_ok in expected.items()
        if name not in schema.names or not is_ok(schema.field(name).type)
    ]
    if wrong:
        raise RequestError(
            f"The tile DB {tiledb_path} lacks the columns {', '.join(wrong)} or they have the "
            f"wrong type: it needs columns X, Y, Y_tile, X_tile (float lon/lat of the tile "
            f"centre, integer tile indices); it has {', '.join(schema.names) or 'none'}. {fix}"
        )


def _empty_tiles() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=_DTYPES[name]) for name in CSV_COLUMNS})


def lookup_tiles(
    pairs: Iterable[tuple[int, int, int]], tiledb_path: str | os.PathLike
) -> tuple[pd.DataFrame, list[Rejection]]:
    """The tile DB rows of ``pairs`` (columns :data:`CSV_COLUMNS`, sorted by Year, X_tile,
    Y_tile) and a ``not_in_tiledb`` rejection per pair it lacks (with an empty project: the
    pairs do not say which project asked)."""
    tiles, absent = _lookup(pairs, tiledb_path)
    return tiles, [_not_in_tiledb(pair, project="") for pair in absent]


def _not_in_tiledb(pair: tuple[int, int, int], project: str) -> Rejection:
    year, x_tile, y_tile = pair
    return Rejection("not_in_tiledb", project, str(year), f"{x_tile}X{y_tile}Y")


def _lookup(
    pairs: Iterable[tuple[int, int, int]], tiledb_path: str | os.PathLike
) -> tuple[pd.DataFrame, list[tuple[int, int, int]]]:
    """:func:`lookup_tiles`, with the absent pairs as they were asked for, in order."""
    _check_tiledb(tiledb_path)
    pairs = list(dict.fromkeys(pairs))
    # An index beyond int64 cannot be in the DB's integer columns; leave it out of the query.
    fits = [p for p in pairs if max(p) <= _INT64_MAX]
    if not fits:
        return _empty_tiles(), pairs
    wanted = pd.DataFrame(fits, columns=["Year", "X_tile", "Y_tile"], dtype="int64")
    rows = _read_rows(tiledb_path, wanted.X_tile.to_numpy(), wanted.Y_tile.to_numpy())
    # A left join on unique right keys keeps the left rows and their order.
    found = wanted.merge(rows, on=["X_tile", "Y_tile"], how="left", indicator=True)
    missing = (found["_merge"] == "left_only").to_numpy()
    absent = {fits[i] for i in np.flatnonzero(missing)}
    tiles = found.loc[~missing, CSV_COLUMNS].astype(_DTYPES)
    tiles = tiles.sort_values(["Year", "X_tile", "Y_tile"]).reset_index(drop=True)
    return tiles, [p for p in pairs if p in absent or max(p) > _INT64_MAX]


def _read_rows(tiledb_path: str | os.PathLike, xs: np.ndarray, ys: np.ndarray) -> pd.DataFrame:
    """The DB rows of the (xs, ys) tiles, plus a few others at most; one row per tile.

    The range conditions let parquet skip row groups by their statistics (the DB is sorted by
    Y_tile); the key condition keeps only the requested rows, so a scattered request does not
    materialise (and join against) millions of rows.
    """
    field = pc.field
    key = pc.add(pc.multiply(field("X_tile"), pa.scalar(_KEY_SHIFT)), field("Y_tile"))
    keys = pa.array(np.unique(xs * _KEY_SHIFT + ys))  # int64 wrap-around as in the key
    condition = (
        (field("Y_tile") >= int(ys.min()))
        & (field("Y_tile") <= int(ys.max()))
        & (field("X_tile") >= int(xs.min()))
        & (field("X_tile") <= int(xs.max()))
        & pc.is_in(key, value_set=keys)
    )
    try:
        table = pq.read_table(tiledb_path, columns=DB_COLUMNS, filters=condition)
    except (OSError, pa.ArrowException) as err:
        raise RequestError(
            f"Cannot read the tile DB {tiledb_path}: {err}. Set the config key tiledb to the "
            "tile DB parquet file (--config tiledb=PATH)."
        ) from err
    rows = table.to_pandas().astype({name: _DTYPES[name] for name in DB_COLUMNS})
    doubled = rows.loc[rows.duplicated(["X_tile", "Y_tile"]), ["X_tile", "Y_tile"]]
    if not doubled.empty:
        # Two centres for one tile: picking either would silently misplace the tile.
        examples = ", ".join(f"{x}X{y}Y" for x, y in doubled.drop_duplicates().values[:3])
        raise RequestError(
            f"The tile DB {tiledb_path} has more than one row for requested tiles ({examples}); "
            "(X_tile, Y_tile) must be unique. Fix or replace the tile DB."
        )
    return rows


def load_request_tiles(
    request_path: str | os.PathLike, tiledb_path: str | os.PathLike
) -> RequestTiles:
    """Read, parse and look up a request; no valid tile at all is an error."""
    parsed = _parse(read_request(request_path))
    tiles, absent = _lookup(parsed.pairs, tiledb_path)
    # lookup_tiles sees pairs only; name the project that first asked for each absent one.
    not_found = [_not_in_tiledb(pair, parsed.pairs[pair]) for pair in absent[:REJECTIONS_KEPT]]
    counts = parsed.rejected_counts + Counter({"not_in_tiledb": len(absent)})
    result = RequestTiles(tiles, tuple(parsed.rejected + not_found), parsed.ids_read, counts)
    if result.tiles.empty:
        raise RequestError(
            f"The request {request_path} has no tile to build. {result.summary()} Fix the ids "
            "or the years, or check that tiledb points at the right tile DB "
            "(--config tiledb=PATH)."
        )
    return result


def batch_of(tiles: pd.DataFrame, batch: str) -> pd.DataFrame:
    """The rows of ``tiles`` in ``batch`` (``"i/n"``): the i-th of n runs of consecutive rows
    whose sizes differ by one at most; all rows for ``""``. Tiles as :func:`lookup_tiles`
    gives them, sorted by Year, X_tile and Y_tile, so each batch is a strip of the map."""
    if not batch:
        return tiles
    index, count = (int(number) for number in batch.split("/"))
    if not 1 <= index <= count:
        raise RequestError(
            f"batch = {batch!r} names batch {index} of {count}, which does not exist. Pass "
            f"--config batch=i/{count} with i from 1 to {count}."
        )
    return tiles.iloc[np.array_split(np.arange(len(tiles)), count)[index - 1]]


def write_tiles_csv(tiles: pd.DataFrame, out: str | os.PathLike | TextIO) -> None:
    """The tiles in the old CSV format (header ``Year,X,Y,Y_tile,X_tile``, the DB's values as
    they are); a path is replaced atomically, so a reader never sees half a file."""
    if not isinstance(out, str | os.PathLike):
        tiles.to_csv(out, columns=CSV_COLUMNS, index=False, lineterminator="\n")
        return
    out = Path(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", newline="") as stream:
            tiles.to_csv(stream, columns=CSV_COLUMNS, index=False, lineterminator="\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """``handle-inbound-request request.json --parquet DB [-o out.csv]``: the tiles CSV of a
    request, to stdout unless ``-o`` is given; the summary goes to stderr.

    Exit status 0 when at least one tile is valid, 1 when the request or the DB is unusable or
    the output cannot be written, 2 for a wrong command line.
    """
    parser = argparse.ArgumentParser(
        prog="handle-inbound-request",
        description="Write the valid tiles of an inbound request as CSV (Year,X,Y,Y_tile,X_tile).",
    )
    parser.add_argument("request", help="inbound request JSON")
    parser.add_argument("--parquet", required=True, metavar="DB", help="tile DB parquet file")
    parser.add_argument("-o", "--output", help="CSV file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        request = load_request_tiles(args.request, args.parquet)
        print(request.summary(), file=sys.stderr)
        write_tiles_csv(request.tiles, args.output or sys.stdout)
        if not args.output:
            sys.stdout.flush()
    except RequestError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): not worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as err:
        where = args.output or "the standard output"
        print(f"{parser.prog}: error: cannot write {where}: {err}", file=sys.stderr)
        return 1
    return 0


#: First year each product's sensor has data for: Sentinel-1 IW from late 2014, Sentinel-2 from
#: mid-2015. The Copernicus DEM is one mosaic, valid for any year.
FIRST_YEAR = {"s1": 2015, "s2": 2015}


def check_years(years: set[int], products: list[str], this_year: int) -> None:
    """Refuse a request whose years no requested product can have data for: before the
    sensor's first year, or after this year. Raises :class:`RequestError` naming both."""
    problems = [
        f"{product} has no data before {FIRST_YEAR[product]} "
        f"(asked: {', '.join(map(str, sorted(y for y in years if y < FIRST_YEAR[product])))})"
        for product in products
        if product in FIRST_YEAR and min(years) < FIRST_YEAR[product]
    ]
    future = sorted(y for y in years if y > this_year)
    if future:
        problems.append(f"{', '.join(map(str, future))} has not happened yet")
    if problems:
        raise RequestError(
            f"The request asks for years without data: {'; '.join(problems)}. Remove those "
            "years from the request, or leave the product out (e.g. --config "
            "products='[dem]'); nothing was built."
        )
