"""Sentinel-2 core: clean-day selection, BOA offset harmonisation, encodings, masks and dates."""

import datetime as dt
import json

import numpy as np
import pystac
import pytest

from demo_archive import s2 as demo_s2
from demo_archive.mgrs import granules_intersecting
from demo_archive.s2 import granule_scenes, plan_granule, write_scenes
from loaders import s2
from loaders.catalog import CatalogError
from loaders.errors import TileDataError
from loaders.jobs import run_job
from loaders.s2_source import item_offset, read_asset, tile_grids
from loaders.tiles import Tile


def D(month: int, day: int, year: int = 2023) -> dt.date:
    return dt.date(year, month, day)


def select(days, rules=None):
    """Run the selection on [(date, global, local), ...]; returns (dates, selection)."""
    dates = [d for d, _, _ in days]
    selection = s2.select_clean_days(
        dates, [g for _, g, _ in days], [loc for _, _, loc in days], rules or s2.CloudRules()
    )
    return dates, selection


def kept_dates(dates, selection):
    return [dates[i] for i in selection.kept]


def reasons(dates, selection):
    return dict(zip(dates, selection.dropped_reason, strict=True))


# --- Stage 1: clean days -------------------------------------------------------------------------


def test_cloudy_global_and_high_score_days_are_dropped_and_the_score_weighs_in_local_cloud():
    days = [
        (D(1, 5), 0.55, 0.00),  # clear centre, but too cloudy overall
        (D(2, 5), 0.50, 11 / 30),  # both boundaries: global 0.50 and score 0.40 pass
        (D(3, 5), 0.35, 0.45),  # weighted: 0.0875 + 0.3375 = 0.425
        (D(4, 5), 0.35, 0.10),  # weighted: 0.0875 + 0.075 = 0.1625
        (D(5, 5), 0.30, 0.90),  # global not above 0.30: score = global despite the centre
        (D(6, 5), 0.20, 0.60),
    ]
    dates, sel = select(days)
    assert reasons(dates, sel) == {
        D(1, 5): "global",
        D(2, 5): "",
        D(3, 5): "score",
        D(4, 5): "",
        D(5, 5): "",
        D(6, 5): "",
    }
    # Every day has a score, dropped ones too (D(1, 5) is weighted: 0.25 * 0.55).
    np.testing.assert_allclose(sel.score, [0.1375, 0.40, 0.425, 0.1625, 0.30, 0.20])
    assert sel.kept.dtype == np.int64


def test_a_day_beaten_in_its_month_by_more_than_020_local_cloud_is_dropped():
    days = [
        (D(3, 2), 0.10, 0.05),
        (D(3, 9), 0.05, 0.30),  # best score of the month, but its centre is 0.25 cloudier
        (D(3, 16), 0.10, 0.25),  # exactly 0.20 cloudier: stays
        (D(4, 2), 0.60, 0.00),  # dropped for global cloud, so it beats nobody
        (D(4, 9), 0.10, 0.30),
    ]
    dates, sel = select(days)
    assert reasons(dates, sel) == {
        D(3, 2): "",
        D(3, 9): "month_local",
        D(3, 16): "",
        D(4, 2): "global",
        D(4, 9): "",
    }


def test_months_are_calendar_months_of_a_year():
    # The same month of two years does not compete.
    dates, sel = select([(D(12, 20, 2022), 0.1, 0.0), (D(12, 20, 2023), 0.1, 0.5)])
    assert sel.dropped_reason == ("", "")


def test_two_lowest_scores_per_month_are_kept_when_the_year_fills_24():
    # 12 months x 3 clear days: the per-month cap alone leaves exactly 24, no top-up.
    days = [
        (D(m, d), score, score)
        for m in range(1, 13)
        for d, score in [(3, 0.2), (13, 0.1), (23, 0.15)]
    ]
    dates, sel = select(days)
    assert len(sel.kept) == 24
    assert kept_dates(dates, sel) == [D(m, d) for m in range(1, 13) for d in (13, 23)]
    assert {r for d, r in reasons(dates, sel).items() if d.day == 3} == {"month_cap"}


def test_fewer_than_24_are_topped_up_from_the_month_caps_cuts_lowest_score_first():
    # 6 months x 5 days: the cap keeps 12, the top-up adds the 12 best of the 18 cut, in
    # score order across months; the 6 worst stay out.
    scores = [0.01, 0.02, 0.30, 0.05, 0.35]
    days = [(D(m, 1 + 5 * k), s + m / 1000, 0.1) for m in range(1, 7) for k, s in enumerate(scores)]
    dates, sel = select(days)
    assert len(sel.kept) == 24
    left_out = {d for d, r in reasons(dates, sel).items() if r}
    assert left_out == {D(m, 21) for m in range(1, 7)}  # the 0.35 days
    assert {r for r in sel.dropped_reason if r} == {"month_cap"}
    assert kept_dates(dates, sel) == sorted(kept_dates(dates, sel))


def test_the_top_up_never_brings_back_days_dropped_by_the_cloud_rules():
    days = [
        (D(5, 1), 0.10, 0.10),
        (D(5, 2), 0.11, 0.10),
        (D(5, 3), 0.12, 0.10),  # cut by the cap, topped up
        (D(5, 4), 0.13, 0.45),  # beaten on local cloud: not topped up
        (D(5, 5), 0.41, 0.41),  # high score: not topped up
    ]
    dates, sel = select(days)
    assert kept_dates(dates, sel) == [D(5, 1), D(5, 2), D(5, 3)]
    assert sel.dropped_reason == ("", "", "", "month_local", "score")


def test_the_total_cap_keeps_the_lowest_scores_and_leaves_nothing_to_top_up():
    rules = s2.CloudRules(max_per_month=1, max_total=3)
    days = [
        (D(1, 10), 0.30, 0.3),
        (D(2, 10), 0.10, 0.1),
        (D(2, 20), 0.05, 0.1),  # the month's best
        (D(3, 10), 0.20, 0.2),
        (D(4, 10), 0.25, 0.2),
    ]
    dates, sel = select(days, rules)
    assert kept_dates(dates, sel) == [D(2, 20), D(3, 10), D(4, 10)]
    assert reasons(dates, sel)[D(1, 10)] == "total_cap"
    assert reasons(dates, sel)[D(2, 10)] == "month_cap"


def test_a_short_total_is_topped_up_with_custom_caps():
    rules = s2.CloudRules(max_per_month=1, max_total=3)
    days = [(D(1, 10), 0.3, 0.3), (D(1, 20), 0.2, 0.2), (D(1, 25), 0.25, 0.2), (D(2, 1), 0.1, 0.1)]
    dates, sel = select(days, rules)
    assert kept_dates(dates, sel) == [D(1, 20), D(1, 25), D(2, 1)]
    assert reasons(dates, sel)[D(1, 10)] == "month_cap"


def test_equal_scores_are_broken_by_date_whatever_the_input_order():
    rules = s2.CloudRules(max_per_month=2, max_total=2)
    days = [(D(7, 20), 0.1, 0.1), (D(7, 5), 0.1, 0.1), (D(7, 12), 0.1, 0.1), (D(7, 1), 0.2, 0.1)]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        dates, sel = select([days[i] for i in order], rules)
        assert kept_dates(dates, sel) == [D(7, 5), D(7, 12)]


def test_repeated_days_and_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2023-07-05"):
        s2.select_clean_days([D(7, 5), D(7, 6), D(7, 5)], [0.1] * 3, [0.1] * 3)
    with pytest.raises(ValueError, match="3 dates"):
        s2.select_clean_days([D(7, 5), D(7, 6), D(7, 7)], [0.1] * 2, [0.1] * 3)


# --- Cloud statistics ----------------------------------------------------------------------------


def test_cloud_fractions_global_and_centre_window_placed_north_west_for_an_odd_margin():
    scl = np.full((2, 5, 5), 4, dtype=np.uint8)  # vegetation
    scl[0, 1:3, 1:3] = 9  # exactly the 2 x 2 window (5 - 2) // 2 = 1 from the top-left
    scl[1, 3, :] = 3  # shadow on a row the window does not reach
    glob, local = s2.cloud_fractions(scl, centre_px=2)
    np.testing.assert_allclose(glob, [4 / 25, 5 / 25])
    np.testing.assert_allclose(local, [1.0, 0.0])
    with pytest.raises(ValueError, match="does not fit"):
        s2.cloud_fractions(scl, centre_px=6)


def test_every_contract_class_is_cloudy_and_no_other():
    scl = np.arange(256, dtype=np.uint8)
    assert set(np.flatnonzero(s2.cloudy(scl))) == {0, 1, 2, 3, 7, 8, 9, 10, 11}
    with pytest.raises(ValueError, match="uint8"):
        s2.cloudy(scl.astype(np.int32))


def test_bad_fraction_per_image():
    scl = np.full((3, 4, 5), 5, dtype=np.uint8)  # bare soil
    scl[1, 0, :] = 8
    scl[2] = 0
    np.testing.assert_allclose(s2.bad_fraction(scl), [0.0, 0.25, 1.0])


def test_clouds_grid_keeps_the_legacy_nan_for_cloudy_pixels():
    scl = np.array([[[4, 5, 6, 3], [8, 0, 11, 10]]], dtype=np.uint8)
    grid = s2.clouds_grid(scl)
    assert grid.dtype == np.float32
    assert grid.shape == (1, 2, 4)
    np.testing.assert_array_equal(grid[0, 0, :3], 0.0)
    assert np.isnan(grid[0, 0, 3]) and np.isnan(grid[0, 1]).all()


# --- Cirrus mask ---------------------------------------------------------------------------------


def test_isolated_pixels_are_removed_per_image_and_pairs_kept():
    mask = np.zeros((2, 5, 6), dtype=bool)
    mask[0, 0, 0] = True  # alone in the corner
    mask[0, 2, 2:4] = True  # a horizontal pair
    mask[0, 3, 5] = mask[0, 4, 4] = True  # a diagonal pair
    mask[1, 2, 2] = True  # alone, though image 0 has pixels right there
    mask[1, 0, 0] = True  # alone, though image 0 has one at the same place
    cleaned = s2.remove_isolated(mask)
    expected = mask.copy()
    expected[0, 0, 0] = expected[1] = False
    np.testing.assert_array_equal(cleaned, expected)


def test_cirrus_mask_is_class_10_only_without_isolated_pixels():
    scl = np.full((1, 4, 4), 4, dtype=np.uint8)
    scl[0, 0, 0:2] = 10
    scl[0, 3, 3] = 10
    scl[0, 2, 0:2] = 9  # thick cloud is not cirrus
    expected = np.zeros((1, 4, 4), dtype=bool)
    expected[0, 0, 0:2] = True
    np.testing.assert_array_equal(s2.cirrus_mask(scl), expected)


# --- BOA offset ----------------------------------------------------------------------------------


def test_declared_offset_from_scale_and_offset():
    assert s2.declared_offset_dn(0.0001, -0.1) == 1000
    assert s2.declared_offset_dn(0.0001, 0.0) == 0
    assert s2.declared_offset_dn(0.0001, -0.1000000001) == 1000
    with pytest.raises(ValueError, match="scale 1.0"):
        s2.declared_offset_dn(1.0, -0.1)
    with pytest.raises(ValueError, match="offset -0.05"):
        s2.declared_offset_dn(0.0001, -0.05)
    with pytest.raises(ValueError, match="offset 0.1"):
        s2.declared_offset_dn(0.0001, 0.1)


@pytest.mark.parametrize(
    ("baseline", "offset"),
    [("02.14", 0), ("03.01", 0), ("04.00", 1000), ("05.09", 1000), ("05.11", 1000)],
)
def test_baseline_offset(baseline, offset):
    assert s2.baseline_offset_dn(baseline) == offset


def test_baseline_that_is_not_a_version_is_refused():
    with pytest.raises(ValueError, match="'N/A'"):
        s2.baseline_offset_dn("N/A")


def visible_dn(reflectance_low, reflectance_high, offset, n=30_000, seed=0):
    """Visible-band DNs of a synthetic scene with reflectance spread over [low, high)."""
    rng = np.random.default_rng(seed)
    reflectance = rng.uniform(reflectance_low, reflectance_high, n)
    return (np.round(reflectance * 10_000) + offset).astype(np.uint16).reshape(3, 100, -1)


def test_pixels_of_a_dark_scene_show_the_offset_or_its_absence():
    assert s2.pixel_offset_evidence(visible_dn(0.005, 0.3, offset=0)) == "absent"
    assert s2.pixel_offset_evidence(visible_dn(0.005, 0.3, offset=1000)) == "present"


def test_a_bright_scene_without_the_offset_is_inconclusive():
    # Nothing below DN 1000, yet no offset: its darkest pixels are far above 1000.
    assert s2.pixel_offset_evidence(visible_dn(0.15, 0.45, offset=0)) is None
    assert s2.pixel_offset_evidence(visible_dn(0.15, 0.45, offset=1000)) is None


def test_a_few_slightly_negative_pixels_do_not_deny_the_offset():
    dn = visible_dn(0.005, 0.3, offset=1000)
    dn.reshape(-1)[:600] = 950  # 2 % water at reflectance -0.005
    assert s2.pixel_offset_evidence(dn) is None


def test_nodata_pixels_are_not_evidence():
    dn = visible_dn(0.005, 0.3, offset=1000)
    dn[:, :50] = 0  # half the scene outside the swath
    assert s2.pixel_offset_evidence(dn) == "present"
    assert s2.pixel_offset_evidence(dn[:, :50]) is None  # nodata only
    assert s2.pixel_offset_evidence(visible_dn(0.005, 0.3, offset=0, n=9_000)) is None


def test_agreeing_hints_follow_the_metadata():
    for hints, offset in [((0, 0, "absent"), 0), ((1000, 1000, "present"), 1000)]:
        decision = s2.decide_offset(*hints)
        assert (decision.offset_dn, decision.source, decision.disagreement) == (
            offset,
            "metadata",
            "",
        )
    assert s2.decide_offset(1000, 1000, None).offset_dn == 1000


def test_metadata_declaring_an_offset_that_the_pixels_lack_is_overruled():
    pixels = s2.pixel_offset_evidence(visible_dn(0.005, 0.3, offset=0))
    decision = s2.decide_offset(s2.declared_offset_dn(0.0001, -0.1), 1000, pixels)
    assert (decision.offset_dn, decision.source, decision.pixels) == (0, "pixels", "absent")
    assert decision.disagreement == (
        "the pixels show the offset absent, unlike raster:bands and the processing baseline: "
        "followed the pixels (0 DN)."
    )


def test_pixels_showing_an_offset_the_metadata_lacks_are_followed():
    pixels = s2.pixel_offset_evidence(visible_dn(0.005, 0.3, offset=1000))
    decision = s2.decide_offset(s2.declared_offset_dn(0.0001, 0.0), 0, pixels)
    assert (decision.offset_dn, decision.source) == (1000, "pixels")
    assert decision.disagreement


def test_declared_and_baseline_disagreeing_without_pixel_evidence_follow_the_baseline():
    for declared, baseline in [(0, 1000), (1000, 0)]:
        decision = s2.decide_offset(declared, baseline, None)
        assert (decision.offset_dn, decision.source) == (baseline, "metadata")
        assert "baseline" in decision.disagreement


def test_pixels_settle_a_declared_baseline_disagreement():
    decision = s2.decide_offset(1000, 0, "present")
    assert (decision.offset_dn, decision.source) == (1000, "pixels")
    assert "processing baseline" in decision.disagreement


# --- Reflectance encoding ------------------------------------------------------------------------


def test_reflectance_without_offset_rounds_half_up_clips_and_zeroes_nodata():
    dn = np.array([0, 1, 3000, 5000, 10_000, 12_000], dtype=np.uint16)
    # 1 -> 6.5535 -> 7; 3000 -> 19660.5 -> 19661 (float round-half-even would give 19660)
    np.testing.assert_array_equal(s2.reflectance_u16(dn, 0), [0, 7, 19661, 32768, 65535, 65535])


def test_reflectance_with_offset_subtracts_it_and_clips_negative_to_zero():
    dn = np.array([0, 500, 999, 1000, 1001, 4000, 11_000, 65_535], dtype=np.uint16)
    np.testing.assert_array_equal(
        s2.reflectance_u16(dn, 1000), [0, 0, 0, 0, 7, 19661, 65535, 65535]
    )


def test_reflectance_nodata_value_is_configurable():
    dn = np.array([0, 3000, 65_535], dtype=np.uint16)
    np.testing.assert_array_equal(s2.reflectance_u16(dn, 0, nodata=65_535), [0, 19661, 0])


def test_reflectance_of_every_dn_on_a_strided_stack_matches_exact_rounding(monkeypatch):
    monkeypatch.setattr(s2, "_LOOKUP_CHUNK", 1000)  # many chunks, ragged last one
    dn = np.arange(65_536, dtype=np.uint16).reshape(16, 64, 16, 4).transpose(1, 0, 2, 3)
    out = s2.reflectance_u16(dn, 1000)
    assert out.dtype == np.uint16 and out.shape == dn.shape
    v = np.clip(dn.astype(np.int64) - 1000, 0, 10_000) * 65_535
    quotient, remainder = np.divmod(v, 10_000)
    np.testing.assert_array_equal(out, quotient + (remainder >= 5_000))


def test_reflectance_refuses_other_dtypes():
    with pytest.raises(ValueError, match="uint16"):
        s2.reflectance_u16(np.array([1000], dtype=np.int32), 1000)


# --- Stage 2: scene per clean day ----------------------------------------------------------------


def test_the_closest_scene_wins_even_with_lower_coverage():
    days = [D(6, 7), D(6, 12), D(6, 8), D(6, 11)]
    assert s2.nearest_scene_day(D(6, 10), days, [1.0, 1.0, 1.0, 0.5]) == 3


def test_equally_close_scenes_prefer_more_coverage_then_the_earlier_day_then_index():
    clean = D(6, 10)
    assert s2.nearest_scene_day(clean, [D(6, 9), D(6, 11)], [0.90, 0.96]) == 1
    assert s2.nearest_scene_day(clean, [D(6, 9), D(6, 11)], [0.96, 0.99]) == 1
    assert s2.nearest_scene_day(clean, [D(6, 9), D(6, 11)], [0.60, 0.50]) == 0
    assert s2.nearest_scene_day(clean, [D(6, 11), D(6, 9)], [0.97, 0.97]) == 1
    assert s2.nearest_scene_day(clean, [D(6, 10), D(6, 10)], [0.5, 0.5]) == 0


def test_no_scene_within_less_than_three_days_gives_none():
    assert s2.nearest_scene_day(D(6, 10), [D(6, 7), D(6, 13)], [1.0, 1.0]) is None
    assert s2.nearest_scene_day(D(6, 10), [], []) is None


# --- Dates ---------------------------------------------------------------------------------------


def test_day_of_year_across_leap_years_and_the_year_boundary():
    dates = [D(12, 31, 2022), D(1, 1), D(3, 1), D(12, 31), D(1, 1, 2024)]
    np.testing.assert_array_equal(s2.day_of_year(dates, 2023), [0, 1, 60, 365, 366])
    np.testing.assert_array_equal(s2.day_of_year([D(3, 1, 2020), D(1, 1, 2021)], 2020), [61, 367])
    assert s2.day_of_year([D(3, 1)], 2023).dtype == np.int64


def test_legacy_day_numbers_use_a_365_day_year():
    assert s2.legacy_day_number(D(1, 1), 2023) == 1
    assert s2.legacy_day_number(D(3, 1), 2023) == 60
    assert s2.legacy_day_number(D(12, 31), 2023) == 365
    assert s2.legacy_day_number(D(1, 5, 2024), 2023) == 370
    # The legacy calendar has no February 29: it and March 1 share a number.
    assert s2.legacy_day_number(D(2, 29, 2020), 2020) == s2.legacy_day_number(D(3, 1, 2020), 2020)


# --- The tile job's refusals ----------------------------------------------------------------------


def tile_spec(tmp_path, stac_path):
    """The S2 job of a tile as the workflow specifies it (workflow/rules/common.smk)."""
    tile = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}
    names = ("s2_10", "s2_20", "s2_dates", "clouds", "cloudmask", "clean_steps")
    return {
        "product": "s2",
        "tile": tile,
        "outputs": {name: str(tmp_path / f"{name}.hkl") for name in names},
        "qa": str(tmp_path / "s2.json"),
        "stac": {"path": str(stac_path)},
    }


def test_a_tile_without_any_scene_is_no_data_and_writes_nothing(tmp_path):
    (tmp_path / "stac/sentinel-2-l2a").mkdir(parents=True)
    with pytest.raises(TileDataError, match="no Sentinel-2 scene in 2023 over 1655X1083Y") as err:
        run_job(tile_spec(tmp_path, tmp_path / "stac"))
    assert err.value.reason == "no_data"
    assert [p.name for p in tmp_path.iterdir()] == ["stac"]


def test_a_catalogue_that_cannot_be_searched_is_not_a_data_problem(tmp_path):
    # Not TileDataError: the executor retries it, as a source that may come back.
    with pytest.raises(CatalogError, match="no collection sentinel-2-l2a"):
        run_job(tile_spec(tmp_path, tmp_path / "missing"))


# --- Offsets of demo scenes whose metadata is wrong -----------------------------------------------


def test_scenes_whose_metadata_contradicts_their_pixels_follow_the_pixels(tmp_path):
    """The demo archive's mislabelled 2022 scenes, read as the loader reads them: the decision
    matches the offset really in the pixels, and the disagreement is recorded."""
    tile = Tile(year=2022, x_tile=1655, y_tile=1083, lon=-1.6944, lat=6.6389)
    (granule,) = [g for g in granules_intersecting(*tile.bbox.__dict__.values()) if g.id == "30NXN"]
    wrong = [scene for scene in granule_scenes(granule, 2022) if scene.metadata_error]
    write_scenes(tmp_path, [plan_granule(granule, [(tile.lon, tile.lat)])], wrong)
    grid = tile_grids(tile).bands_10m
    decided = 0
    for scene in wrong:
        item = pystac.Item.from_file(str(demo_s2.item_path(tmp_path, scene.id)))
        truth = json.loads(demo_s2.truth_path(tmp_path, scene.id).read_text())
        visible = np.stack([read_asset(item, band, grid) for band in s2.VISIBLE])
        decision = item_offset(item, visible)
        assert decision.declared_dn != truth["pixel_offset_dn"]
        if decision.pixels is not None:
            decided += 1
            assert decision.offset_dn == truth["pixel_offset_dn"]
            assert decision.source == "pixels" and "followed the pixels" in decision.disagreement
    assert decided >= 2
