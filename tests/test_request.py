"""Inbound requests: parsing, tile lookup, the tiles CSV, the old command-line tool, the
shipped tile table and the run's tiles as the workflow gets them."""

import importlib.util
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ttc_ard.request import (
    REJECTIONS_KEPT,
    Rejection,
    RequestError,
    RequestTiles,
    batch_of,
    check_years,
    load_request_tiles,
    lookup_tiles,
    main,
    parse_request,
    read_request,
    write_tiles_csv,
)
from ttc_ard.run_tiles import RunTilesError, load_run_tiles

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests/data/requests"
TILEDB = REPO / "config/tiles.parquet"
#: The full tile DB (2.9 M rows) may not be redistributed, so it is never in the repository: whoever
#: has a copy names it in this environment variable to run the test that reads it.
FULL_TILEDB_VARIABLE = "TTC_ARD_FULL_TILEDB"
PROJECT_A = "3f2b6c1e-8d4a-4c2e-9b7f-1a5d0e6c4b21"
PROJECT_B = "a7c9e2f0-5b13-4d8e-8f21-6c0b9d3e7a55"
DEMO_ROWS = [
    {"Year": 2023, "X": -1.6944, "Y": 6.6389, "Y_tile": 1083, "X_tile": 1655},
    {"Year": 2023, "X": -1.6944, "Y": 6.6944, "Y_tile": 1084, "X_tile": 1655},
    {"Year": 2023, "X": -1.6389, "Y": 6.6389, "Y_tile": 1083, "X_tile": 1656},
    {"Year": 2023, "X": -1.6389, "Y": 6.6944, "Y_tile": 1084, "X_tile": 1656},
]


def write_json(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def one_year(ids: list, year: str = "2023") -> dict:
    return {"p": {year: {"missing_tiles": ids}}}


def pairs_of(tiles: pd.DataFrame) -> list[tuple[int, int, int]]:
    return list(tiles[["Year", "X_tile", "Y_tile"]].itertuples(index=False, name=None))


# Sample requests


def test_two_projects_sample_is_trimmed_deduplicated_and_checked():
    request = load_request_tiles(SAMPLES / "two-projects.json", TILEDB)
    assert pairs_of(request.tiles) == [
        (2022, 1655, 1083),
        (2023, 1655, 1083),
        (2023, 1656, 1083),  # " 1656X1083Y " trimmed
        (2023, 1657, 1085),
    ]
    assert [(r.reason, r.project, r.year, r.tile_id) for r in request.rejected] == [
        ("malformed_id", PROJECT_B, "2023", "not-a-tile"),
        ("bad_year", PROJECT_B, "notayear", "1656X1084Y"),
        ("not_in_tiledb", PROJECT_B, "2023", "99999X99999Y"),
    ]
    assert request.ids_read == 8


def test_a_request_of_mostly_wrong_ids_keeps_a_bounded_sample_of_them(tmp_path):
    """Each reason keeps its first REJECTIONS_KEPT ids; the summary counts every one."""
    wrong = 2 * REJECTIONS_KEPT + 500
    ids = ["1655X1083Y"] + [f"bad-{n}" for n in range(wrong)] + [f"1X{n}Y" for n in range(wrong)]
    request = load_request_tiles(write_json(tmp_path / "r.json", one_year(ids)), TILEDB)
    kept = Counter(r.reason for r in request.rejected)
    assert kept == {"malformed_id": REJECTIONS_KEPT, "not_in_tiledb": REJECTIONS_KEPT}
    assert [r.tile_id for r in request.rejected][:2] == ["bad-0", "bad-1"]
    assert (
        f"{len(ids)} tile ids read, 1 valid (year, tile) pair to build; rejected: "
        f"{wrong} malformed ids ('bad-0', 'bad-1', 'bad-2', ...); {wrong} ids absent"
    ) in request.summary().replace("2023: ", "")


def test_demo_sample_ignores_all_tiles():
    request = load_request_tiles(SAMPLES / "demo.json", TILEDB)
    assert request.rejected == ()
    assert request.tiles.to_dict("records") == DEMO_ROWS  # not 1657X1084Y from all_tiles


def test_sample_tiles_have_the_exact_columns_and_types():
    tiles = load_request_tiles(SAMPLES / "two-projects.json", TILEDB).tiles
    assert list(tiles.columns) == ["Year", "X", "Y", "Y_tile", "X_tile"]
    assert list(tiles.dtypes.astype(str)) == ["int64", "float64", "float64", "int64", "int64"]
    assert list(tiles.index) == list(range(len(tiles)))


@pytest.mark.parametrize("tiles, count", [(10, 3), (7, 7), (3, 5), (10_001, 2)])
def test_batches_split_the_tiles_into_runs_of_near_equal_size_in_order(tiles, count):
    table = pd.DataFrame({"X_tile": range(tiles), "Y_tile": range(tiles)})
    batches = [batch_of(table, f"{index}/{count}") for index in range(1, count + 1)]
    # Each tile in exactly one batch, the batches in the table's order: together the request.
    assert pd.concat(batches).equals(table)
    sizes = [len(batch) for batch in batches]
    assert max(sizes) - min(sizes) <= 1
    assert batch_of(table, "").equals(table)


def test_a_batch_beyond_the_count_names_the_batches_there_are():
    table = pd.DataFrame({"X_tile": range(4), "Y_tile": range(4)})
    with pytest.raises(RequestError, match=r"batch = '3/2'.*batch=i/2 with i from 1 to 2"):
        batch_of(table, "3/2")


# Parsing


def test_pairs_are_deduplicated_within_and_across_projects_in_first_order():
    pairs, rejected = parse_request(
        {
            "a": {"2024": {"missing_tiles": ["3X4Y", " 1X2Y", "1X2Y\t"], "all_tiles": ["9X9Y"]}},
            "b": {"2023": {"missing_tiles": ["1X2Y"]}, "2024": {"missing_tiles": ["3X4Y"]}},
        }
    )
    assert pairs == [(2024, 3, 4), (2024, 1, 2), (2023, 1, 2)]
    assert rejected == []


@pytest.mark.parametrize(
    "tile_id",
    ["1655x1083y", "1655X1083", "X1083Y", "1655 X1083Y", "", "   ", "12", "1655X1083YY",
     "-1X2Y", "1.5X2Y", "١٦٥٥X1083Y", 1655, None, ["1655X1083Y"]],
)  # fmt: skip
def test_malformed_ids_are_rejected_not_dropped(tile_id):
    pairs, rejected = parse_request(one_year([tile_id, "1X2Y"]))
    assert pairs == [(2023, 1, 2)]
    assert [(r.reason, r.project, r.year) for r in rejected] == [("malformed_id", "p", "2023")]


def test_malformed_ids_are_reported_trimmed_or_as_written_in_json():
    _, rejected = parse_request(one_year([" bad id ", 7, None]))
    assert [r.tile_id for r in rejected] == ["bad id", "7", "null"]


@pytest.mark.parametrize("year", ["notayear", "23", "20233", " 2023", "2023.0", "２０２３", ""])
def test_every_id_under_a_bad_year_is_rejected_and_not_processed(year):
    request = {
        "p": {year: {"missing_tiles": ["1655X1083Y", "junk"]}, "2023": {"missing_tiles": []}}
    }
    pairs, rejected = parse_request(request)
    assert pairs == []
    assert [(r.reason, r.year, r.tile_id) for r in rejected] == [
        ("bad_year", year, "1655X1083Y"),
        ("bad_year", year, "junk"),
    ]


def test_a_year_that_is_not_a_string_is_a_bad_year():
    pairs, rejected = parse_request({"p": {2023: {"missing_tiles": ["1X2Y"]}}})
    assert pairs == [] and rejected == [Rejection("bad_year", "p", "2023", "1X2Y")]


def test_a_repeated_rejection_is_reported_once_with_the_first_project():
    _, rejected = parse_request(
        {
            "a": {"2023": {"missing_tiles": ["bad", " bad"]}},
            "b": {"2023": {"missing_tiles": ["bad"]}},
        }
    )
    assert [(r.project, r.tile_id) for r in rejected] == [("a", "bad")]


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ({"p": ["1X2Y"]}, 'project "p" must be an object of years, not a list'),
        ({"p": {"2023": ["1X2Y"]}}, 'project "p" → year "2023" has no list "missing_tiles"'),
        ({"p": {"2023": {"all_tiles": []}}}, 'project "p" → year "2023" has no list'),
        ({"p": {"2023": {"missing_tiles": "1X2Y"}}}, 'year "2023" has no list "missing_tiles"'),
        ({"p": {"bad": {"missing_tiles": None}}}, 'year "bad" has no list "missing_tiles"'),
    ],
)
def test_wrong_structure_names_the_json_path(request_, says):
    with pytest.raises(RequestError, match=says):
        parse_request(request_)


# Reading the file


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "is empty"),
        ("\n  \n", "is empty"),
        ('{"p": {"2023": {"missing_tiles": ["1X2Y"]}', "not valid JSON: .* at line 1, column 43"),
        ('{"p":\n {"2023": {"missing_tiles": [1X2Y]}}}', "line 2, column 31"),
        ("[1, 2]", "must be a JSON object of projects, not a list"),
        ('"1655X1083Y"', "not a string"),
        ('{"p": {"2023": {"missing_tiles": []}, "2023": {"missing_tiles": []}}}', 'key "2023"'),
    ],
)
def test_malformed_request_files_say_what_is_wrong(tmp_path, content, says):
    path = write_json(tmp_path / "request.json", content)
    with pytest.raises(RequestError, match=says) as raised:
        load_request_tiles(path, TILEDB)
    assert str(path) in str(raised.value)


def test_unreadable_request_files_name_the_file_and_the_config_key(tmp_path):
    for path in (tmp_path / "absent.json", tmp_path):
        with pytest.raises(RequestError, match="--config request=PATH") as raised:
            read_request(path)
        assert str(path) in str(raised.value)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"caf\xe9": {}}'.encode("latin-1"))
    with pytest.raises(RequestError, match="not UTF-8"):
        read_request(latin1)


# Zero valid tiles and the summary


def test_no_valid_tile_is_an_error_with_the_reasons(tmp_path):
    path = write_json(tmp_path / "r.json", one_year(["99999X99999Y", "bad", "bad"]))
    with pytest.raises(RequestError) as raised:
        load_request_tiles(path, TILEDB)
    message = str(raised.value)
    assert f"The request {path} has no tile to build" in message
    assert "3 tile ids read, 0 valid (year, tile) pairs" in message
    assert "1 malformed id (2023: 'bad')" in message
    assert "1 id absent from the tile DB (2023: 99999X99999Y)" in message
    assert "--config tiledb=PATH" in message


@pytest.mark.parametrize("content", [{}, {"p": {}}, one_year([])])
def test_a_request_without_ids_is_an_error(tmp_path, content):
    with pytest.raises(RequestError, match="0 tile ids read"):
        load_request_tiles(write_json(tmp_path / "r.json", content), TILEDB)


def test_summary_counts_and_names_examples():
    summary = load_request_tiles(SAMPLES / "two-projects.json", TILEDB).summary()
    assert summary == (
        "Request: 8 tile ids read, 4 valid (year, tile) pairs to build; rejected: "
        "1 malformed id (2023: 'not-a-tile'); "
        "1 id under a year that is not 4 digits ('notayear': 1656X1084Y); "
        "1 id absent from the tile DB (2023: 99999X99999Y)."
    )
    assert "\n" not in summary


def test_summary_lists_the_first_examples_of_many(tmp_path):
    ids = ["1655X1083Y"] + [f"{90000 + i}X1Y" for i in range(5)]
    request = load_request_tiles(write_json(tmp_path / "r.json", one_year(ids)), TILEDB)
    assert request.summary() == (
        "Request: 6 tile ids read, 1 valid (year, tile) pair to build; rejected: "
        "5 ids absent from the tile DB (2023: 90000X1Y, 2023: 90001X1Y, 2023: 90002X1Y, ...)."
    )


def test_summary_without_rejections_and_without_a_read_count():
    tiles = load_request_tiles(SAMPLES / "demo.json", TILEDB).tiles
    assert RequestTiles(tiles, ()).summary() == (
        "Request: 4 tile ids read, 4 valid (year, tile) pairs to build; none rejected."
    )


# Looking tiles up


def test_lookup_returns_the_db_values_unchanged_and_sorted():
    pairs = [(2024, 1656, 1084), (2023, 1656, 1083), (2023, 1655, 1084), (2023, 1655, 1083)]
    tiles, absent = lookup_tiles(pairs + pairs[:1], TILEDB)
    assert absent == []
    assert pairs_of(tiles) == sorted(pairs)
    assert tiles.iloc[-1].to_dict() == {
        "Year": 2024, "X": -1.6389, "Y": 6.6944, "Y_tile": 1084, "X_tile": 1656
    }  # fmt: skip
    assert list(tiles.dtypes.astype(str)) == ["int64", "float64", "float64", "int64", "int64"]


def test_lookup_reports_absent_pairs_in_request_order():
    huge = 10**30  # a well-formed id beyond any integer column
    pairs = [(2023, 99999, 99999), (2023, 1655, 1083), (2023, huge, 1), (2022, 1, 1083)]
    tiles, absent = lookup_tiles(pairs, TILEDB)
    assert pairs_of(tiles) == [(2023, 1655, 1083)]
    assert [(r.reason, r.project, r.year, r.tile_id) for r in absent] == [
        ("not_in_tiledb", "", "2023", "99999X99999Y"),
        ("not_in_tiledb", "", "2023", f"{huge}X1Y"),
        ("not_in_tiledb", "", "2022", "1X1083Y"),
    ]


def test_lookup_of_nothing_is_empty_with_the_columns():
    tiles, absent = lookup_tiles([], TILEDB)
    assert absent == [] and tiles.empty
    assert list(tiles.columns) == ["Year", "X", "Y", "Y_tile", "X_tile"]


def test_missing_tile_db_names_the_path_and_the_config_key(tmp_path):
    with pytest.raises(RequestError, match="--config tiledb=PATH") as raised:
        lookup_tiles([(2023, 1655, 1083)], tmp_path / "absent.parquet")
    assert str(tmp_path / "absent.parquet") in str(raised.value)


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (pd.DataFrame({"a": [1]}), "lacks the columns X, Y, X_tile, Y_tile"),
        (pd.DataFrame({"X": [1.0], "Y": [2.0], "X_tile": ["1"], "Y_tile": [2]}), "X_tile"),
    ],
)
def test_tile_db_without_the_tile_columns_is_refused(tmp_path, frame, says):
    frame.to_parquet(tmp_path / "db.parquet")
    with pytest.raises(RequestError, match=says):
        lookup_tiles([(2023, 1655, 1083)], tmp_path / "db.parquet")


def test_tile_db_that_is_not_parquet_is_refused(tmp_path):
    (tmp_path / "db.parquet").write_text("X,Y,Y_tile,X_tile\n")
    with pytest.raises(RequestError, match="Cannot read the tile DB .* as parquet"):
        lookup_tiles([(2023, 1655, 1083)], tmp_path / "db.parquet")


def test_tile_db_with_two_rows_for_a_requested_tile_is_refused(tmp_path):
    db = pd.read_parquet(TILEDB)
    pd.concat([db, db.head(1).assign(X=0.0)]).to_parquet(tmp_path / "db.parquet")
    x_tile, y_tile = int(db.X_tile.iloc[0]), int(db.Y_tile.iloc[0])
    with pytest.raises(RequestError, match=rf"requested tiles \({x_tile}X{y_tile}Y\);.*unique"):
        lookup_tiles([(2023, x_tile, y_tile)], tmp_path / "db.parquet")


# The tiles CSV


def test_tiles_csv_has_the_old_header_and_the_db_values():
    stream = io.StringIO()
    write_tiles_csv(load_request_tiles(SAMPLES / "demo.json", TILEDB).tiles, stream)
    assert stream.getvalue() == (
        "Year,X,Y,Y_tile,X_tile\n"
        "2023,-1.6944,6.6389,1083,1655\n"
        "2023,-1.6944,6.6944,1084,1655\n"
        "2023,-1.6389,6.6389,1083,1656\n"
        "2023,-1.6389,6.6944,1084,1656\n"
    )


def test_tiles_csv_file_is_replaced_whole_and_keeps_long_floats(tmp_path):
    out = tmp_path / "tiles.csv"
    out.write_text("old content\n")
    north = pd.read_parquet(TILEDB).query("Y > 50").assign(Year=2023)
    write_tiles_csv(north, out)
    (row,) = north.itertuples()
    assert (
        out.read_text()
        == f"Year,X,Y,Y_tile,X_tile\n2023,{row.X!r},{row.Y!r},{row.Y_tile},{row.X_tile}\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.csv"]


# The command-line tool


def test_cli_writes_csv_to_stdout_and_summary_to_stderr(capsys):
    assert main([str(SAMPLES / "two-projects.json"), "--parquet", str(TILEDB)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "Year,X,Y,Y_tile,X_tile",
        "2022,-1.6944,6.6389,1083,1655",
        "2023,-1.6944,6.6389,1083,1655",
        "2023,-1.6389,6.6389,1083,1656",
        "2023,-1.5833,6.75,1085,1657",
    ]
    assert err.startswith("Request: 8 tile ids read, 4 valid") and "99999X99999Y" in err


def test_cli_writes_the_output_file(tmp_path, capsys):
    out_csv = tmp_path / "tiles.csv"
    assert main([str(SAMPLES / "demo.json"), "--parquet", str(TILEDB), "-o", str(out_csv)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "4 valid" in err
    assert pd.read_csv(out_csv).to_dict("records") == DEMO_ROWS


@pytest.mark.parametrize(
    ("content", "says"),
    [(one_year(["nope"]), "has no tile to build"), ("{", "not valid JSON")],
)
def test_cli_fails_cleanly_without_valid_tiles(tmp_path, capsys, content, says):
    path = write_json(tmp_path / "request.json", content)
    out_csv = tmp_path / "tiles.csv"
    assert main([str(path), "--parquet", str(TILEDB), "-o", str(out_csv)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("handle-inbound-request: error: ") and says in err
    assert "Traceback" not in err and not out_csv.exists()


def test_cli_fails_cleanly_when_the_output_cannot_be_written(tmp_path, capsys):
    out_csv = tmp_path / "no-such-dir/tiles.csv"
    assert main([str(SAMPLES / "demo.json"), "--parquet", str(TILEDB), "-o", str(out_csv)]) == 1
    assert f"cannot write {out_csv}" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        main([str(SAMPLES / "demo.json")])
    assert raised.value.code == 2 and "--parquet" in capsys.readouterr().err


def test_script_works_from_any_directory(tmp_path):
    script = [sys.executable, str(REPO / "scripts/handle_inbound_request.py")]
    ok = subprocess.run(
        [*script, str(SAMPLES / "demo.json"), "--parquet", str(TILEDB)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        ok.stdout.splitlines()[0] == "Year,X,Y,Y_tile,X_tile" and len(ok.stdout.splitlines()) == 5
    )
    assert "4 valid" in ok.stderr
    bad = write_json(tmp_path / "bad.json", one_year(["99999X99999Y"]))
    failed = subprocess.run(
        [*script, str(bad), "--parquet", str(TILEDB), "-o", "tiles.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1 and failed.stdout == ""
    assert "has no tile to build" in failed.stderr and "Traceback" not in failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


# The shipped tile table


def load_make_tile_table():
    spec = importlib.util.spec_from_file_location(
        "make_tile_table", REPO / "scripts/make_tile_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_tile_table_is_what_its_script_selects():
    # Every rule picks from a subset of the full DB what it picked from the DB, so applying
    # the rules to the shipped table must give the shipped table back.
    make = load_make_tile_table()
    shipped = pd.read_parquet(TILEDB)
    groups = make.select(shipped, make.requested_tiles(make.REQUEST_DIRS))
    pd.testing.assert_frame_equal(make.tile_table(groups), shipped)
    sizes = {name: len(rows) for name, rows in groups.items()}
    assert sizes == {
        "requests": 6,
        "block": 25,
        "integer longitude": 2,
        "integer latitude": 2,
        "UTM boundary": 2,
        "north of 50N": 1,
        "south of the equator": 1,
        "antimeridian": 1,
    }
    assert len(shipped) < 100


def test_shipped_tile_table_has_the_db_layout():
    schema = pq.read_schema(TILEDB)
    assert [(f.name, str(f.type)) for f in schema] == [
        ("X", "double"), ("Y", "double"), ("Y_tile", "int64"), ("X_tile", "int64")
    ]  # fmt: skip
    assert not pd.read_parquet(TILEDB).duplicated(["X_tile", "Y_tile"]).any()


@pytest.fixture
def full_tiledb() -> Path:
    """The full tile DB named by ``TTC_ARD_FULL_TILEDB``; skips the test when none is named."""
    named = os.environ.get(FULL_TILEDB_VARIABLE)
    if not named:
        pytest.skip(
            f"needs the full tile DB: run with {FULL_TILEDB_VARIABLE}=/path/to/tiledb.parquet"
        )
    path = Path(named)
    # A named file that is missing is a mistake to report, not a reason to skip.
    assert path.is_file(), f"{FULL_TILEDB_VARIABLE}={named} is not a file"
    return path


def test_the_full_tile_db_gives_the_demo_tiles_and_the_shipped_rows(full_tiledb):
    request = load_request_tiles(SAMPLES / "demo.json", full_tiledb)
    assert request.tiles.to_dict("records") == DEMO_ROWS and request.rejected == ()
    shipped = pd.read_parquet(TILEDB).assign(Year=2023)
    pairs = list(zip(shipped.Year, shipped.X_tile, shipped.Y_tile, strict=True))
    tiles, absent = lookup_tiles(pairs, full_tiledb)
    assert absent == []
    expected = shipped.sort_values(["X_tile", "Y_tile"])[tiles.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(tiles, expected)


def test_years_without_data_for_a_product_are_refused_naming_both():
    check_years({2023}, ["dem", "s1", "s2"], this_year=2026)
    check_years({1990, 2023}, ["dem"], this_year=2026)  # the DEM has no date
    with pytest.raises(RequestError) as err:
        check_years({2014, 2023}, ["dem", "s2"], this_year=2026)
    message = str(err.value)
    assert "s2 has no data before 2015 (asked: 2014)" in message
    assert "products='[dem]'" in message and "\n" not in message
    with pytest.raises(RequestError, match="2031 has not happened yet"):
        check_years({2031}, ["dem"], this_year=2026)


# The run's tiles, as the workflow's planning process gets them


def test_the_run_tiles_are_the_batch_of_the_lookup_with_the_db_centres_unchanged():
    request = load_request_tiles(SAMPLES / "two-projects.json", TILEDB)
    batch = batch_of(request.tiles, "2/3")
    run = load_run_tiles(SAMPLES / "two-projects.json", TILEDB, "2/3", ["dem"], 2026)
    assert run.centres == {
        (row.Year, row.X_tile, row.Y_tile): (row.X, row.Y) for row in batch.itertuples(index=False)
    }
    assert run.request_tiles == len(request.tiles) == 4
    assert run.summary == f"{request.summary()} Batch 2/3: {len(batch)} of these tiles."
    assert load_run_tiles(SAMPLES / "demo.json", TILEDB, "", ["dem"], 2026).summary == (
        load_request_tiles(SAMPLES / "demo.json", TILEDB).summary()
    )


@pytest.mark.parametrize(
    "request_, batch, products, says",
    [
        (one_year(["1X1Y"]), "", ["dem"], "has no tile to build"),
        (one_year(["1655X1083Y"], year="2014"), "", ["s2"], "s2 has no data before 2015"),
        (one_year(["1655X1083Y"]), "2/1", ["dem"], "batch = '2/1' names batch 2 of 1"),
    ],
)
def test_the_run_tiles_are_refused_with_the_request_error(
    tmp_path, request_, batch, products, says
):
    path = write_json(tmp_path / "r.json", request_)
    with pytest.raises(RunTilesError) as refusal:
        load_run_tiles(path, TILEDB, batch, products, 2026)
    assert says in str(refusal.value)
    assert "Traceback" not in str(refusal.value)


def test_the_planning_process_holds_neither_pandas_nor_pyarrow():
    # They and the tile-DB read take ~100 MB, which a plan of 10,000 tiles holds to its end.
    code = (
        "import sys\n"
        "from ttc_ard.run_tiles import load_run_tiles\n"
        f"run = load_run_tiles({str(SAMPLES / 'demo.json')!r}, {str(TILEDB)!r}, '', [], 2026)\n"
        "assert len(run.centres) == 4, run\n"
        "print(sorted({'pandas', 'pyarrow'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
