"""Sentinel-1 loader core: real ESA annotations parsed, LUTs interpolated, DN calibrated,
terrain flattened, quarters composited and encoded as the ARD contract says."""

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest

from loaders import s1
from loaders.dem import slope_degrees

REFERENCE = Path(__file__).parent / "fixtures/reference"


@pytest.fixture(scope="module")
def calibration() -> s1.CalibrationLUT:
    return s1.parse_calibration((REFERENCE / "s1-grd-calibration-vv.xml").read_bytes())


@pytest.fixture(scope="module")
def noise() -> s1.NoiseLUT:
    return s1.parse_noise((REFERENCE / "s1-grd-noise-vv.xml").read_bytes())


@pytest.fixture(scope="module")
def geolocation() -> s1.Geolocation:
    return s1.parse_geolocation((REFERENCE / "s1-grd-product-annotation-vv.xml").read_text())


# --- Real annotations -----------------------------------------------------------------------


def test_calibration_annotation_has_27_vectors_of_655_pixels(calibration):
    assert calibration.lines.shape == (27,)
    assert calibration.lines[0] == 0 and calibration.lines[-1] == 17343
    assert calibration.pixels.shape == (655,)
    steps = np.diff(calibration.pixels)
    assert (steps[:-1] == 40).all() and calibration.pixels[-1] == 26143
    for lut in (calibration.sigma_nought, calibration.beta_nought, calibration.gamma):
        assert lut.shape == (27, 655) and lut.dtype == np.float64
    assert calibration.dn.shape == (27, 655)
    assert calibration.absolute_calibration_constant == 1.0
    # gamma0 = sigma0 / cos(theta) exceeds sigma0, so its LUT is the smaller one.
    assert (calibration.gamma < calibration.sigma_nought).all()


def test_calibration_luts_imply_the_incidence_angles_of_the_geolocation_grid(
    calibration, geolocation
):
    # gamma0 = sigma0 / cos(theta) and sigma0 = beta0 * sin(theta): the LUT ratios give the
    # incidence angle, which must match the product annotation's at the same image positions.
    rows, cols = np.arange(0, 16676, 731.0), np.arange(0, 26144, 977.0)

    def lut(values):
        return s1.interpolate_lut(calibration.lines, calibration.pixels, values, rows, cols)

    sigma, beta, gamma = (
        lut(calibration.sigma_nought),
        lut(calibration.beta_nought),
        lut(calibration.gamma),
    )
    incidence = s1.incidence_angle(geolocation, rows, cols)
    assert incidence.shape == (len(rows), len(cols))
    np.testing.assert_allclose(np.degrees(np.arccos((gamma / sigma) ** 2)), incidence, atol=0.5)
    np.testing.assert_allclose(np.degrees(np.arcsin((beta / sigma) ** 2)), incidence, atol=0.5)


def test_noise_annotation_has_range_vectors_and_one_azimuth_block_per_subswath(noise):
    assert len(noise.range_lines) == 26
    assert noise.range_lines[0] == 0 and noise.range_lines[-1] == 16675
    assert [len(p) for p in noise.range_pixels] == [657] * 26
    assert [len(v) for v in noise.range_values] == [657] * 26
    blocks = noise.azimuth_blocks
    assert [b.swath for b in blocks] == ["IW1", "IW2", "IW3"]
    # The sub-swaths tile the image's 26144 samples without gap or overlap.
    assert blocks[0].first_sample == 0 and blocks[-1].last_sample == 26143
    assert [b.first_sample for b in blocks[1:]] == [b.last_sample + 1 for b in blocks[:-1]]
    for block in blocks:
        assert (block.first_line, block.last_line) == (0, 16675)
        assert len(block.lines) == len(block.values) == 1687
        assert 0.8 < block.values.min() <= block.values.max() < 1.25


def test_thermal_noise_follows_the_subswaths(noise):
    rows, cols = np.array([0.0, 8000.0]), np.array([8759.0, 8760.0, 17560.0, 17561.0])
    factor = s1.azimuth_noise(noise, rows, cols)
    # Each column takes its own sub-swath's azimuth profile, which start at different values.
    assert factor[0, 0] == pytest.approx(noise.azimuth_blocks[0].values[0])
    assert factor[0, 1] == pytest.approx(noise.azimuth_blocks[1].values[0])
    assert factor[0, 3] == pytest.approx(noise.azimuth_blocks[2].values[0])
    total = s1.thermal_noise(noise, rows, cols)
    np.testing.assert_allclose(total, s1.range_noise(noise, rows, cols) * factor)
    assert (total > 0).all()


def test_geolocation_grid_of_the_ascending_product(geolocation):
    assert geolocation.line.shape == (210,)
    assert len(np.unique(geolocation.line)) == 10 and len(np.unique(geolocation.pixel)) == 21
    assert geolocation.pass_direction == "ascending"
    assert (geolocation.number_of_samples, geolocation.number_of_lines) == (26144, 16676)
    assert (geolocation.range_pixel_spacing, geolocation.azimuth_pixel_spacing) == (10.0, 10.0)
    assert geolocation.platform_heading == pytest.approx(-14.1639, abs=1e-4)
    assert 29 < geolocation.incidence_angle.min() < geolocation.incidence_angle.max() < 47


def test_look_azimuth_points_along_increasing_range_on_the_ground(geolocation):
    order = np.lexsort((geolocation.pixel, geolocation.line))
    lat = geolocation.latitude[order].reshape(10, 21)
    lon = geolocation.longitude[order].reshape(10, 21)
    east = np.diff(lon, axis=1) * np.cos(np.radians(lat[:, 1:]))
    north = np.diff(lat, axis=1)
    range_direction = np.degrees(np.arctan2(east, north))
    look = s1.look_azimuth(geolocation.pass_direction, geolocation.platform_heading)
    # The heading is the platform's; the ground range direction differs by a few degrees.
    assert np.abs(range_direction - look).max() < 6


def test_look_azimuth_from_the_pass_alone():
    assert s1.look_azimuth("ascending") == pytest.approx(78.0)  # looks east
    assert s1.look_azimuth("descending") == pytest.approx(282.0)  # looks west
    with pytest.raises(ValueError, match="does not fit"):
        s1.look_azimuth("descending", -14.0)


def test_noise_of_older_products_is_the_range_lut_alone():
    xml = """<?xml version="1.0" encoding="UTF-8"?>
    <noise><noiseVectorList count="2">
      <noiseVector><line>0</line><pixel count="2">0 10</pixel>
        <noiseLut count="2">100 200</noiseLut></noiseVector>
      <noiseVector><line>10</line><pixel count="3">0 5 10</pixel>
        <noiseLut count="3">0 100 0</noiseLut></noiseVector>
    </noiseVectorList></noise>"""
    noise = s1.parse_noise(xml)
    assert noise.azimuth_blocks == ()
    rows, cols = np.array([0.0, 5.0, 10.0]), np.array([0.0, 5.0, 10.0])
    assert (s1.azimuth_noise(noise, rows, cols) == 1).all()
    # Each vector along its own pixels first (150 and 100 at pixel 5), then between lines.
    expected = [[100, 150, 200], [50, 125, 100], [0, 100, 0]]
    np.testing.assert_allclose(s1.thermal_noise(noise, rows, cols), expected)


def test_calibration_vectors_with_their_own_pixels_interpolate_as_they_are():
    def vector(line, pixels, values):
        lut = f'count="{len(values)}">{" ".join(values)}'
        luts = "".join(
            f"<{tag} {lut}</{tag}>" for tag in ("sigmaNought", "betaNought", "gamma", "dn")
        )
        return (
            f"<calibrationVector><line>{line}</line>"
            f'<pixel count="{len(pixels)}">{" ".join(pixels)}</pixel>{luts}</calibrationVector>'
        )

    xml = (
        "<calibration><calibrationInformation><absoluteCalibrationConstant>1"
        "</absoluteCalibrationConstant></calibrationInformation><calibrationVectorList>"
        + vector(0, ["0", "10"], ["1", "3"])
        + vector(10, ["0", "5", "10"], ["2", "2", "2"])
        + "</calibrationVectorList></calibration>"
    )
    lut = s1.parse_calibration(xml)
    np.testing.assert_array_equal(lut.pixels, [0, 5, 10])
    out = s1.interpolate_lut(lut.lines, lut.pixels, lut.gamma, np.array([0.0, 5.0]), lut.pixels)
    np.testing.assert_allclose(out, [[1, 2, 3], [1.5, 2, 2.5]])


def test_annotation_list_of_the_wrong_length_is_refused():
    xml = """<calibration><calibrationInformation>
      <absoluteCalibrationConstant>1</absoluteCalibrationConstant></calibrationInformation>
      <calibrationVectorList count="1"><calibrationVector><line>0</line>
        <pixel count="3">0 40</pixel></calibrationVector></calibrationVectorList></calibration>"""
    with pytest.raises(ValueError, match="2 values, count=3"):
        s1.parse_calibration(xml)


# --- Interpolation --------------------------------------------------------------------------

LINES = np.array([0.0, 10.0])
PIXELS = np.array([0.0, 4.0, 8.0])
VALUES = np.array([[1.0, 2.0, 4.0], [3.0, 6.0, 12.0]])


def test_lut_at_grid_nodes_is_exact():
    np.testing.assert_array_equal(s1.interpolate_lut(LINES, PIXELS, VALUES, LINES, PIXELS), VALUES)


def test_lut_at_cell_midpoint_is_the_average_of_its_corners():
    mid = s1.interpolate_lut(LINES, PIXELS, VALUES, np.array([5.0]), np.array([2.0, 6.0]))
    np.testing.assert_allclose(mid, [[(1 + 2 + 3 + 6) / 4, (2 + 4 + 6 + 12) / 4]])


def test_lut_at_a_generic_point_is_bilinear():
    # Line 2.5 is 1/4 of the way to line 10, pixel 5 is 1/4 of the way from 4 to 8:
    # 2.5 on line 0, 7.5 on line 10, so 2.5 + (7.5 - 2.5) / 4.
    value = s1.interpolate_lut(LINES, PIXELS, VALUES, np.array([2.5]), np.array([5.0]))
    assert value.shape == (1, 1)
    assert value[0, 0] == pytest.approx(3.75)


def test_lut_is_clamped_outside_the_grid():
    out = s1.interpolate_lut(LINES, PIXELS, VALUES, np.array([-5.0, 40.0]), np.array([-1.0, 99.0]))
    np.testing.assert_array_equal(out, [[1.0, 4.0], [3.0, 12.0]])


def test_azimuth_noise_blocks_cover_their_sample_intervals_only():
    block = s1.AzimuthNoiseBlock("IW1", 0, 19, 0, 4, np.array([0.0, 10.0]), np.array([1.0, 3.0]))
    flat = s1.AzimuthNoiseBlock("IW2", 0, 19, 5, 9, np.array([0.0]), np.array([0.5]))
    noise = s1.NoiseLUT(np.array([0.0]), (np.array([0.0]),), (np.array([1.0]),), (block, flat))
    factor = s1.azimuth_noise(noise, np.array([5.0, 15.0, 25.0]), np.array([0.0, 4.5, 9.0, 12.0]))
    np.testing.assert_allclose(
        factor,
        [
            [2.0, 2.0, 0.5, 1.0],  # halfway between the profile's lines; past sample 9: none
            [3.0, 3.0, 0.5, 1.0],  # clamped after the last profile line
            [1.0, 1.0, 1.0, 1.0],  # past the blocks' last line
        ],
    )


# --- Calibration ----------------------------------------------------------------------------


def test_gamma0_of_a_known_dn_field():
    dn = np.array([[0, 10], [20, 60000]], dtype=np.uint16)
    lut = np.full((2, 2), 10.0)
    out = s1.gamma0(dn, lut, 0.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[np.nan, 1.0], [4.0, 36e6]])  # no uint16 overflow
    np.testing.assert_allclose(s1.gamma0(dn, lut, 100.0), [[np.nan, 0.0], [3.0, 36e6 - 1]])
    np.testing.assert_allclose(s1.sigma0(dn, 2 * lut, 0.0), out / 4)


def test_noise_subtraction_never_gives_negative_power():
    rng = np.random.default_rng(6)
    dn = rng.integers(0, 60, size=(40, 50)).astype(np.uint16)
    noise = rng.uniform(0, 3000, size=dn.shape)
    out = s1.gamma0(dn, np.full(dn.shape, 500.0), noise)
    valid = dn > 0
    assert np.isnan(out[~valid]).all() and not np.isnan(out[valid]).any()
    assert (out[valid] >= 0).all()
    assert (out[valid & (dn.astype(float) ** 2 < noise)] == 0).all()


# --- Terrain flattening ---------------------------------------------------------------------

ASCENDING_LOOK = s1.look_azimuth("ascending")


def observed_gamma0(gamma_true, incidence, slope, aspect, look):
    """What the ellipsoid-calibrated gamma0 of a uniform canopy reads on a plane facet, from
    3-D vectors: the radar pixel gathers the facet area A_beta / cos(psi) (psi between the
    facet normal and the image-plane normal), which scatters gamma_true * cos(local incidence)
    per unit area; the ellipsoid calibration then multiplies beta0 by tan(theta)."""
    theta, s, a, lk = (np.radians(x) for x in (incidence, slope, aspect, look))
    # (east, north, up) components; the look direction is horizontal, away from the sensor.
    normal = (np.sin(s) * np.sin(a), np.sin(s) * np.cos(a), np.cos(s))
    to_sensor = (-np.sin(theta) * np.sin(lk), -np.sin(theta) * np.cos(lk), np.cos(theta))
    image_normal = (np.cos(theta) * np.sin(lk), np.cos(theta) * np.cos(lk), np.sin(theta))
    cos_local = sum(n * v for n, v in zip(normal, to_sensor, strict=True))
    cos_psi = sum(n * m for n, m in zip(normal, image_normal, strict=True))
    return gamma_true * cos_local / cos_psi * np.tan(theta)


def test_flattening_leaves_flat_terrain_unchanged():
    gamma = np.array([0.01, 0.1, 0.3, 1.2])
    incidence = np.array([30.0, 35.0, 40.0, 45.0])
    out = s1.flatten_gamma0(gamma, incidence, np.zeros(4), np.array([0, 90, 200, 300.0]), 78.0)
    np.testing.assert_allclose(out, gamma, rtol=1e-6)


def test_flattening_recovers_a_uniform_canopy_on_any_facet():
    slope, aspect = (g.ravel() for g in np.meshgrid(np.arange(0, 26, 5.0), np.arange(0, 360, 15.0)))
    incidence = np.full(slope.shape, 37.0)
    observed = observed_gamma0(0.1, incidence, slope, aspect, ASCENDING_LOOK)
    out = s1.flatten_gamma0(observed, incidence, slope, aspect, ASCENDING_LOOK)
    np.testing.assert_allclose(out, 0.1, rtol=1e-5)


def test_a_slope_facing_the_sensor_is_brighter_and_flattening_darkens_it():
    # A plane rising 0.3 m per metre to the east faces west: toward a descending pass (looking
    # west) it faces away from the sensor, toward an ascending pass (looking east) it faces it.
    x = np.arange(12)[None, :] * 10.0
    elevation = np.repeat(0.3 * x, 12, axis=0)
    slope = slope_degrees(elevation, dx_m=10.0, dy_m=10.0)
    aspect = s1.aspect_degrees(elevation, dx_m=10.0, dy_m=10.0)
    np.testing.assert_allclose(aspect, 270.0)
    incidence = np.full(slope.shape, 37.0)
    for look, facing in ((ASCENDING_LOOK, True), (s1.look_azimuth("descending"), False)):
        observed = observed_gamma0(0.1, incidence, slope, aspect, look)
        flat = s1.flatten_gamma0(observed, incidence, slope, aspect, look)
        assert ((observed > 0.1) == facing).all()
        assert ((flat < observed) == facing).all()
        np.testing.assert_allclose(flat, 0.1, rtol=1e-5)


def test_layover_and_shadow_are_masked_and_a_pure_azimuth_slope_is_left_alone():
    toward, away, across = ASCENDING_LOOK + 180, ASCENDING_LOOK, ASCENDING_LOOK + 90
    slope = np.array([40.0, 60.0, 40.0, 20.0])
    aspect = np.array([toward, away, across, away])
    local = s1.local_incidence_angle(35.0, slope, aspect, ASCENDING_LOOK)
    np.testing.assert_allclose(local, [-5.0, 95.0, 35.0, 55.0])
    out = s1.flatten_gamma0(np.full(4, 0.2), 35.0, slope, aspect, ASCENDING_LOOK)
    assert np.isnan(out[:2]).all()  # layover, shadow
    assert out[2] == pytest.approx(0.2)
    assert out[3] > 0.2  # a slope facing away looks darker and is brightened


@pytest.mark.parametrize(
    ("rises_to", "faces"), [("east", 270), ("west", 90), ("north", 180), ("south", 0)]
)
def test_aspect_is_the_downhill_direction(rises_to, faces):
    rows, cols = np.mgrid[0:5, 0:5].astype(np.float64)
    elevation = {"east": cols, "west": -cols, "north": -rows, "south": rows}[rises_to]
    aspect = s1.aspect_degrees(elevation, dx_m=10.0, dy_m=10.0)
    assert aspect.shape == (3, 3)
    np.testing.assert_allclose(aspect, faces)


# --- Quarters and compositing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (dt.date(2023, 1, 14), None),
        (dt.date(2023, 1, 15), 0),
        (dt.datetime(2023, 3, 15, 23, 59), 0),
        (dt.date(2023, 3, 16), None),
        (dt.date(2023, 6, 15), 1),
        (dt.date(2023, 8, 1), 2),
        (dt.date(2023, 12, 15), 3),
        (dt.date(2023, 12, 16), None),
        (dt.date(2024, 2, 1), None),  # another year
    ],
)
def test_quarter_of(day, quarter):
    assert s1.quarter_of(day, 2023) == quarter


def footprint(cols: slice, rows: slice = slice(None)) -> np.ndarray:
    mask = np.zeros((4, 4), dtype=bool)
    mask[rows, cols] = True
    return mask


def test_scenes_are_chosen_per_quarter_by_coverage():
    dates = [
        dt.date(2023, 3, 1),  # 0: full, Q1
        dt.date(2023, 2, 13),  # 1: all but one cell, Q1, adds nothing to the full ones
        dt.date(2023, 8, 20),  # 2: left half, Q3
        dt.date(2023, 8, 8),  # 3: right half, Q3, as large and earlier
        dt.date(2023, 8, 1),  # 4: left quarter, Q3, inside scene 2
        dt.date(2023, 6, 30),  # 5: full, between quarters
        dt.date(2023, 2, 1),  # 6: full, Q1, earlier than 0
    ]
    almost = footprint(slice(None))
    almost[0, 0] = False
    footprints = np.stack(
        [
            footprint(slice(None)),
            almost,
            footprint(slice(0, 2)),
            footprint(slice(2, 4)),
            footprint(slice(0, 1)),
            footprint(slice(None)),
            footprint(slice(None)),
        ]
    )
    assert s1.select_quarter_scenes(dates, footprints, 2023) == [[6, 0], [], [3, 2], []]
    assert s1.select_quarter_scenes(dates, footprints, 2023, max_scenes=1) == [[6], [], [3], []]
    # With a lower bar the almost-full scene counts as full and adds looks.
    chosen = s1.select_quarter_scenes(dates, footprints, 2023, min_coverage=0.9)
    assert chosen[0] == [6, 0, 1]


def test_missing_quarters_take_the_nearest_quarter_earlier_first():
    assert s1.fill_missing_quarters([True, False, True, False]) == [0, 0, 2, 2]
    assert s1.fill_missing_quarters([False, False, True, True]) == [2, 2, 2, 3]
    assert s1.fill_missing_quarters([False, True, False, False]) == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="no quarter has data"):
        s1.fill_missing_quarters([False] * 4)


def test_gaps_in_a_quarter_are_filled_pixel_by_pixel_from_the_nearest_quarter():
    nan = np.nan
    quarters = np.array([[1.0, nan, nan], [nan, 2.0, nan], [3.0, 3.0, nan], [nan, nan, nan]])
    filled = s1.fill_gaps(quarters[:, None, :])[:, 0, :]
    np.testing.assert_array_equal(
        filled, [[1.0, 2.0, nan], [1.0, 2.0, nan], [3.0, 3.0, nan], [3.0, 3.0, nan]]
    )


def test_median_composite_ignores_nan_and_keeps_all_nan_pixels_nan():
    nan = np.nan
    stack = np.array(
        [[1.0, 1.0, nan, nan, 1.0], [nan, 2.0, nan, nan, 3.0], [3.0, 4.0, 5.0, nan, 10.0]],
        dtype=np.float32,
    )[:, None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = s1.median_composite(stack)
    assert out.shape == (1, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [2.0, 2.0, 5.0, nan, 3.0])
    rng = np.random.default_rng(1)
    many = rng.uniform(0, 1, size=(6, 8, 9)).astype(np.float32)
    many[rng.uniform(size=many.shape) < 0.3] = nan
    np.testing.assert_allclose(s1.median_composite(many), np.nanmedian(many, axis=0), rtol=1e-6)


def test_encoding_repeats_each_quarter_three_times_as_scaled_uint16():
    quarters = np.zeros((4, 2, 3, 2), dtype=np.float32)
    quarters[0, 0, :, 0] = [0.5, 1.0, 1.5]
    quarters[0, 1, :, 1] = [-0.1, np.nan, 0.25]
    quarters[3] = 1.0
    out = s1.encode_s1(quarters)
    assert out.shape == (12, 2, 3, 2) and out.dtype == np.uint16
    np.testing.assert_array_equal(out[0, 0, :, 0], [32768, 65535, 65535])
    np.testing.assert_array_equal(out[0, 1, :, 1], [0, 0, 16384])
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()
    assert (out[3:9] == 0).all() and (out[9:] == 65535).all()
    assert s1.S1_DATES.dtype == np.int64
    assert s1.S1_DATES.tolist() == [45, 45, 45, 135, 135, 135, 225, 225, 225, 315, 315, 315]
    with pytest.raises(ValueError, match="expected"):
        s1.encode_s1(quarters[:3])
