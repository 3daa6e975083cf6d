"""Inbound requests: parsing, tile lookup, the tiles CSV and the old command-line tool."""

import io
import json
import subprocess
import sys

import pandas as pd
import pytest
from workflow_runner import REPO

from ttc_ard.request import (
    RequestError,
    load_request_tiles,
    lookup_tiles,
    main,
    parse_request,
    read_request,
    write_tiles_csv,
)

SAMPLES = REPO / "tests/data/requests"
TILEDB = REPO / "config/tiles.parquet"


def test_two_projects_sample_is_trimmed_deduplicated_and_checked():
    request = load_request_tiles(SAMPLES / "two-projects.json", TILEDB)
    valid = list(request.tiles[["Year", "X_tile", "Y_tile"]].itertuples(index=False, name=None))
    assert valid == [(2022, 1655, 1083), (2023, 1655, 1083), (2023, 1656, 1083), (2023, 1657, 1085)]
    rejected = {(r.reason, r.year, r.tile_id) for r in request.rejected}
    assert rejected == {
        ("malformed_id", "2023", "not-a-tile"),
        ("not_in_tiledb", "2023", "99999X99999Y"),
        ("bad_year", "notayear", "1656X1084Y"),
    }


def test_summary_counts_and_names_examples():
    summary = load_request_tiles(SAMPLES / "two-projects.json", TILEDB).summary()
    assert "8 tile id(s) read, 4 valid" in summary
    assert "1 malformed tile id(s) (2023: 'not-a-tile')" in summary
    assert "1 id(s) absent from the tile DB (2023: '99999X99999Y')" in summary
    assert "notayear" in summary


def test_demo_sample_ignores_all_tiles():
    request = load_request_tiles(SAMPLES / "demo.json", TILEDB)
    assert len(request.tiles) == 4 and not request.rejected
    assert (1657, 1084) not in set(zip(request.tiles.X_tile, request.tiles.Y_tile, strict=True))


def test_duplicates_within_and_across_projects_count_once():
    pairs, rejected, read = parse_request(
        {
            "a": {"2023": {"missing_tiles": ["1X2Y", " 1X2Y", "3X4Y"]}},
            "b": {"2023": {"missing_tiles": ["3X4Y\t"]}, "2024": {"missing_tiles": ["1X2Y"]}},
        }
    )
    assert pairs == [(2023, 1, 2), (2023, 3, 4), (2024, 1, 2)]
    assert rejected == [] and read == 5


@pytest.mark.parametrize("tile_id", ["1655x1083y", "1655X1083", "X1083Y", "1655 X1083Y", "", "12"])
def test_malformed_ids_are_rejected(tile_id):
    pairs, rejected, _ = parse_request({"p": {"2023": {"missing_tiles": [tile_id]}}})
    assert pairs == [] and [r.reason for r in rejected] == ["malformed_id"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "not valid JSON"),
        ('{"p": {"2023": {"missing_tiles": ["1X2Y"]}', "line 1"),
        ("[1, 2]", "JSON object of projects"),
        ('{"p": ["1X2Y"]}', 'project "p" must map years'),
        ('{"p": {"2023": {"all_tiles": []}}}', '"missing_tiles"'),
    ],
)
def test_malformed_request_files_say_what_is_wrong(tmp_path, content, expected):
    path = tmp_path / "request.json"
    path.write_text(content)
    with pytest.raises(RequestError, match=expected):
        load_request_tiles(path, TILEDB)


def test_missing_request_file_names_the_config_key(tmp_path):
    with pytest.raises(RequestError, match="--config request="):
        read_request(tmp_path / "absent.json")


def test_no_valid_tile_is_an_error_with_the_reasons(tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"p": {"2023": {"missing_tiles": ["99999X99999Y", "bad"]}}}))
    with pytest.raises(RequestError, match="no tile to build.*absent from the tile DB"):
        load_request_tiles(path, TILEDB)


def test_missing_tile_db_names_the_config_key(tmp_path):
    with pytest.raises(RequestError, match="--config tiledb="):
        lookup_tiles([(2023, 1655, 1083)], tmp_path / "absent.parquet")


def test_tile_db_without_the_tile_columns_is_refused(tmp_path):
    path = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(RequestError, match="columns X, Y, Y_tile, X_tile"):
        lookup_tiles([(2023, 1655, 1083)], path)


def test_lookup_returns_the_db_values_unchanged():
    tiles, absent = lookup_tiles([(2023, 1656, 1084), (2023, 1655, 1083)], TILEDB)
    assert absent == []
    assert tiles.to_dict("records") == [
        {"Year": 2023, "X": -1.6944, "Y": 6.6389, "Y_tile": 1083, "X_tile": 1655},
        {"Year": 2023, "X": -1.6389, "Y": 6.6944, "Y_tile": 1084, "X_tile": 1656},
    ]
    assert list(tiles.dtypes.astype(str)) == ["int64", "float64", "float64", "int64", "int64"]


def test_tiles_csv_has_the_old_header_and_values():
    stream = io.StringIO()
    write_tiles_csv(load_request_tiles(SAMPLES / "demo.json", TILEDB).tiles, stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Year,X,Y,Y_tile,X_tile"
    assert lines[1] == "2023,-1.6944,6.6389,1083,1655"
    assert len(lines) == 5


def test_cli_writes_csv_to_stdout_and_summary_to_stderr(capsys):
    assert main([str(SAMPLES / "two-projects.json"), "--parquet", str(TILEDB)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "Year,X,Y,Y_tile,X_tile" and len(out.splitlines()) == 5
    assert "4 valid" in err


def test_cli_fails_cleanly_without_valid_tiles(tmp_path, capsys):
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"p": {"2023": {"missing_tiles": ["nope"]}}}))
    out_csv = tmp_path / "tiles.csv"
    assert main([str(path), "--parquet", str(TILEDB), "-o", str(out_csv)]) == 1
    assert capsys.readouterr().err.startswith("error: The request")
    assert not out_csv.exists()


def test_script_works_from_any_directory(tmp_path):
    out_csv = tmp_path / "tiles.csv"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/handle_inbound_request.py"),
            str(SAMPLES / "demo.json"),
            "--parquet",
            str(TILEDB),
            "-o",
            str(out_csv),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert out_csv.read_text().splitlines()[0] == "Year,X,Y,Y_tile,X_tile"
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.csv"]
