"""Job reports and plots from run logs: records, failed tiles, text, figures, files."""

import json

import matplotlib.image
import pandas as pd
import pytest

from ttc_ard.reports import (
    durations_figure,
    failed_tiles,
    job_records,
    summary_text,
    timeline_figure,
    write_reports,
)

PRICE = 0.00001667


def attempt(jobid, x_tile, status, attempt_no=1, seconds=2.0, rule="dem", region="eu-central-1"):
    """One run-log line as the executor writes it."""
    started = 1000.0 + jobid
    return {
        "jobid": jobid,
        "rule": rule,
        "region": region,
        "backend": "localhost",
        "memory_mb": 2048,
        "attempt": attempt_no,
        "status": status,
        "reason": "missing_data" if status == "failed" else None,
        "error": None if status == "success" else f"{status} of tile {x_tile}",
        "traceback_tail": None,
        "tile": {"year": 2023, "x_tile": x_tile, "y_tile": 1083, "lon": -1.5, "lat": 6.6},
        "stats": {
            "host_submit_tstamp": 999.0,
            "worker_start_tstamp": started,
            "worker_end_tstamp": started + seconds,
            "worker_exec_time": seconds,
            "worker_peak_memory_end": 150 * 2**20,
        },
    }


ATTEMPTS = [
    attempt(1, 1655, "success"),
    attempt(2, 1656, "failed"),
    attempt(3, 1657, "error", attempt_no=1),
    attempt(3, 1657, "error", attempt_no=2),
    attempt(4, 1658, "success", seconds=4.0),
    attempt(5, 1659, "success", seconds=6.0, rule="s2", region="us-west-2"),
]


def test_one_record_per_job_with_its_attempts():
    records = job_records(ATTEMPTS)
    assert [r["job_id"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["attempts"] for r in records] == [1, 1, 2, 1, 1]
    assert records[0]["tile"] == "1655X1083Y" and records[0]["peak_memory_mb"] == 150.0
    assert records[1]["reason"] == "missing_data"


def test_failed_tiles_are_ready_to_be_requested_again():
    tiles = failed_tiles(job_records(ATTEMPTS))
    assert list(tiles.columns) == ["Year", "X", "Y", "Y_tile", "X_tile"]
    assert list(tiles.X_tile) == [1656, 1657]


def test_text_report_counts_rates_durations_and_cost():
    text = summary_text("run-1", job_records(ATTEMPTS), ATTEMPTS, PRICE, estimate=0.5)
    assert "jobs: 5 (1 error, 1 failed, 3 success), call attempts: 6" in text
    assert "dem    eu-central-1  2/4 (50 %)" in text
    assert "s2     us-west-2     1/1 (100 %)" in text
    assert "dem    2.00 / 3.00 / 4.00" in text
    # Every attempt is billed: 2+2+2+2+4+6 s at 2 GB.
    assert "(36.0 GB-s at $0.00001667/GB-s, all attempts)" in text
    assert "estimated before the run $0.5000" in text
    assert "dem 1656X1083Y: failed (missing_data), 1 attempt(s)" in text


def test_text_report_lists_at_most_twenty_failures():
    many = [attempt(i, 2000 + i, "error") for i in range(30)]
    text = summary_text("run-1", job_records(many), many, PRICE, estimate=None)
    assert "failures (first 20 of 30):" in text
    assert text.count(": error, 1 attempt(s)") == 20


def test_timeline_has_a_waiting_and_a_running_bar_per_call():
    figure = timeline_figure(job_records(ATTEMPTS), "eu-central-1")
    (axes,) = figure.axes
    assert len(axes.patches) == 2 * 4
    assert [label.get_text() for label in axes.get_yticklabels()][0] == "dem 1655X1083Y"


def test_duration_histogram_counts_successful_calls_only():
    (axes,) = durations_figure(job_records(ATTEMPTS), "dem").axes
    assert sum(patch.get_height() for patch in axes.patches) == 2


def test_reports_are_written_per_run_and_never_overwritten(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text("\n".join(json.dumps(a) for a in ATTEMPTS) + "\n")
    first = write_reports(log, "run-1", tmp_path / "reports", tmp_path / "plots", PRICE, 0.5)
    second = write_reports(log, "run-2", tmp_path / "reports", tmp_path / "plots", PRICE, 0.5)
    assert first != second and (first / "report.txt").exists() and (second / "report.txt").exists()
    assert {p.name for p in first.iterdir()} == {
        "jobs.json", "failed_jobs.json", "summary.csv", "failed_tiles.csv", "report.txt",
    }  # fmt: skip
    assert len(json.loads((first / "jobs.json").read_text())) == 5
    assert [j["job_id"] for j in json.loads((first / "failed_jobs.json").read_text())] == [2, 3]
    assert len(pd.read_csv(first / "summary.csv")) == 5
    plots = sorted(p.name for p in (tmp_path / "plots/run-1").iterdir())
    assert plots == [
        "durations_dem.png",
        "durations_s2.png",
        "timeline_eu-central-1.png",
        "timeline_us-west-2.png",
    ]
    for png in (tmp_path / "plots/run-1").iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(png).ndim == 3


def test_a_damaged_line_in_the_run_log_is_skipped_with_a_warning(tmp_path, capsys):
    # A killed run leaves its last line cut short; the executor's reports still come out.
    log = tmp_path / "run.jsonl"
    good = [json.dumps(a) for a in ATTEMPTS]
    log.write_bytes("\n".join([*good, good[0][:40]]).encode() + b"\n\xff\xfe\n")

    folder = write_reports(log, "run-1", tmp_path / "reports", tmp_path / "plots", PRICE)

    assert len(json.loads((folder / "jobs.json").read_text())) == 5
    assert f"Skipped 2 damaged line(s) of the run log {log}" in capsys.readouterr().err


def test_a_run_without_calls_writes_no_report(tmp_path):
    assert write_reports(tmp_path / "absent.jsonl", "r", tmp_path, tmp_path, PRICE) is None
    assert list(tmp_path.iterdir()) == []


def with_qa(record: dict, typical: float, constant: bool = False) -> dict:
    return record | {"result": {"qa": {"typical": typical, "constant": constant}}}


def test_data_quality_flags_constant_tiles_and_outliers():
    typicals = [3.1, 2.9, 3.4, 3.0, 3.2, 41.0]
    attempts = [with_qa(attempt(i, 1650 + i, "success"), v) for i, v in enumerate(typicals)]
    attempts.append(with_qa(attempt(9, 1700, "success"), 0.02, constant=True))
    text = summary_text("run-1", job_records(attempts), attempts, PRICE, estimate=None)
    assert (
        "data quality, dem: 7 tile(s), typical value min / median / max 0.02 / 3.10 / 41.00" in text
    )
    assert "flagged 1700X1083Y: every value is the same" in text
    assert "flagged 1655X1083Y: typical value 41.00 outside the run's" in text
    assert "flagged 1700X1083Y: typical value 0.02 outside the run's 1.40 to 4.90" in text
    assert text.count("flagged") == 3


def test_data_quality_without_anything_wrong_says_so():
    attempts = [with_qa(attempt(i, 1650 + i, "success"), 3.0 + i / 10) for i in range(5)]
    text = summary_text("run-1", job_records(attempts), attempts, PRICE, estimate=None)
    assert "nothing flagged" in text


def test_data_quality_names_metadata_disagreements_and_uncovered_pixels():
    attempts = [with_qa(attempt(i, 1650 + i, "success"), 0.3) for i in range(3)]
    attempts[0]["result"]["qa"] |= {"offset_disagreements": 2, "nodata_fraction": 0.0}
    attempts[1]["result"]["qa"] |= {"offset_disagreements": 0, "nodata_fraction": 0.25}
    text = summary_text("run-1", job_records(attempts), attempts, PRICE, estimate=None)
    assert "flagged 1650X1083Y: 2 scene(s) whose metadata disagreed with their pixels" in text
    assert "flagged 1651X1083Y: 25% of the pixels covered by no scene" in text
    assert text.count("flagged") == 2


@pytest.mark.parametrize("status", ["failed", "error", "cancelled"])
def test_every_unsuccessful_status_is_a_failed_tile(status):
    assert len(failed_tiles(job_records([attempt(1, 1655, status)]))) == 1


def with_reads(record: dict, requests: int, mb: float, wait: float, searches: int, gdal=True):
    """``record`` whose call read its sources so (``gdal``: GDAL's counters were found)."""
    gdal_traffic = {"requests": requests - searches, "bytes": int(mb * 1e6)} if gdal else None
    reads = {
        "requests": requests if gdal else searches,
        "bytes": int(mb * 1e6) if gdal else 0,
        "wait_seconds": wait,
        "searches": searches,
        "by_client": {
            "gdal": gdal_traffic,
            "boto3": {"requests": 0, "bytes": 0},
            "stac": {"requests": searches, "bytes": 0},
        },
    }
    return record | {"result": (record.get("result") or {}) | {"reads": reads}}


def test_text_report_sums_up_each_products_reads():
    attempts = [
        with_reads(attempt(1, 1650, "success"), 10, 1.0, 0.5, 0),
        with_reads(attempt(2, 1651, "success"), 20, 3.0, 1.5, 0),
        with_reads(attempt(3, 1652, "success"), 40, 2.0, 2.5, 0),
        with_reads(attempt(4, 1653, "success", rule="s2"), 300, 90.0, 40.0, 6),
        with_reads(attempt(5, 1654, "success", rule="s2"), 5, 0.0, 1.0, 5, gdal=False),
        # A failed call returns no summary: nothing to count.
        attempt(6, 1655, "failed"),
    ]
    text = summary_text("run-1", job_records(attempts), attempts, PRICE, estimate=None)
    assert "source reads of successful calls: median / total (GDAL counts" in text
    assert (
        "  dem    3 call(s): requests 20 / 70, MB 2.0 / 6.0, wait s 1.5 / 4.5, "
        "search pages 0 / 0\n"
        "         requests by client, total: GDAL 70, boto3 0, STAC 0\n"
    ) in text
    assert (
        "  s2     2 call(s): requests 152 / 305, MB 45.0 / 90.0, wait s 20.5 / 41.0, "
        "search pages 6 / 11\n"
        "         requests by client, total: GDAL 294 (not counted in 1 call(s)), boto3 0, "
        "STAC 11\n"
    ) in text


def test_a_run_log_without_reads_reports_none():
    text = summary_text("run-1", job_records(ATTEMPTS), ATTEMPTS, PRICE, estimate=None)
    assert "source reads" not in text
