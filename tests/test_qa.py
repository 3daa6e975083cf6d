"""The QA record's module: its statistics, the summary the run log keeps, and the reports
reading that summary through the same field names."""

import numpy as np

from loaders import qa
from ttc_ard.reports import qa_lines

SPREAD = {"min": 0, "p50": 50, "max": 100}


def test_percentiles_by_name():
    values = np.arange(1, 11, dtype=np.float32)
    assert qa.percentiles(values, SPREAD) == {"min": 1.0, "p50": 5.5, "max": 10.0}
    assert qa.percentiles(values, {"p50": 50}, method="inverted_cdf") == {"p50": 5.0}
    assert qa.percentiles(values, {"p25": 25}, digits=1) == {"p25": 3.2}
    assert qa.percentiles(np.array([65535], np.uint16), {"p50": 50}, divide_by=65535) == {
        "p50": 1.0
    }
    assert qa.percentiles(np.array([]), SPREAD) == {}


def test_percentiles_are_plain_floats_for_json():
    found = qa.percentiles(np.array([3, 1, 2], np.uint16), SPREAD, method="inverted_cdf")
    assert all(type(value) is float for value in found.values())


def record(tile: str, typical: float, **details) -> dict:
    grid = qa.grid_record([10.0, 0.0, 500.0, 0.0, -10.0, 900.0, 0.0, 0.0, 1.0], (2, 3), "EPSG:1")
    return qa.tile_record("s2", tile, grid, details, typical=typical, constant=False)


def test_a_record_holds_the_fields_every_product_has():
    built = record("1X2Y", 0.3, kept=4)
    assert built[qa.GRID] == {
        "crs": "EPSG:1",
        "transform": [10.0, 0.0, 500.0, 0.0, -10.0, 900.0],
        "shape": [2, 3],
    }
    assert (built[qa.PRODUCT], built[qa.TILE], built[qa.KEPT]) == ("s2", "1X2Y", 4)
    assert (built[qa.TYPICAL], built[qa.CONSTANT]) == (0.3, False)


def test_the_summary_keeps_what_the_reports_read_and_not_the_details():
    built = record("1X2Y", 0.3, kept=4, cloud_scores=[{"date": "2023-01-01"}])
    built[qa.FILES] = {"s2_10": {"bytes": 1, "sha256": "0"}}
    assert qa.summary(built) == {
        qa.PRODUCT: "s2",
        qa.TILE: "1X2Y",
        qa.TYPICAL: 0.3,
        qa.CONSTANT: False,
        qa.KEPT: 4,
    }


def run_log_records(*records: dict) -> list[dict]:
    """The reports' job records of successful calls whose results carry ``records``' summaries."""
    return [{"product": r[qa.PRODUCT], "tile": r[qa.TILE], "qa": qa.summary(r)} for r in records]


def test_the_reports_flag_tiles_from_the_summaries_the_loaders_write():
    usual = [record(f"{n}X{n}Y", 0.30 + n / 1000) for n in range(10)]
    tiles = run_log_records(
        *usual,
        record("20X1Y", 0.31, **{qa.OFFSET_DISAGREEMENTS: 2}),
        record("30X1Y", 0.29, **{qa.NODATA_FRACTION: 0.25}),
        record("40X1Y", 0.30) | {qa.CONSTANT: True},
        record("50X1Y", 9.0),
    )
    text = "\n".join(qa_lines(tiles))
    assert (
        "data quality, s2: 14 tile(s), typical value min / median / max 0.29 / 0.30 / 9.00" in text
    )
    assert "flagged 40X1Y: every value is the same" in text
    assert "flagged 50X1Y: typical value 9.00 outside the run's" in text
    assert "flagged 20X1Y: 2 scene(s) whose metadata disagreed" in text
    assert "flagged 30X1Y: 25% of the pixels covered by no scene" in text
    assert text.count("flagged") == 4
