"""Sentinel-1 ARD: the pure core of the GRD loader (annotation parsing, calibration, terrain
flattening, quarterly compositing and encoding).

Everything here takes arrays or annotation text and returns arrays; fetching the scenes and
their annotations, and placing radar geometry on the tile grid, are :mod:`loaders.s1_source`'s,
the tile job :mod:`loaders.s1_job`'s.
Image coordinates follow the annotations: ``line`` is the row (azimuth) and ``pixel`` the
column (range sample) of the GRD image, both counted from 0.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Acquisition windows of the four quarterly composites, (month, day) first and last day,
#: both included, within the tile's year.
QUARTERS = (
    ((1, 15), (3, 15)),
    ((4, 15), (6, 15)),
    ((7, 15), (9, 15)),
    ((10, 15), (12, 15)),
)
#: Day of year stored with each of the 12 S1 time steps: each quarter's middle, 3 times.
S1_DATES = np.repeat(np.array([45, 135, 225, 315], dtype=np.int64), 3)
S1_DATES.setflags(write=False)
#: Platform heading (degrees clockwise from north) assumed when an annotation has none: the
#: ground track of Sentinel-1's sun-synchronous orbit near the equator runs about 12 degrees
#: west of north going up, and as far east of south coming down.
NOMINAL_HEADING_DEG = {"ascending": -12.0, "descending": -168.0}


# --- Annotation parsing -------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationLUT:
    """The calibration vectors of one polarisation on a regular (line, pixel) grid."""

    lines: np.ndarray
    """(n,) image line of each vector, increasing (the last may lie past the image)."""
    pixels: np.ndarray
    """(m,) pixel positions shared by all vectors, increasing."""
    sigma_nought: np.ndarray
    """(n, m) sigma0 LUT: sigma0 = DN^2 / LUT^2."""
    beta_nought: np.ndarray
    """(n, m) beta0 LUT."""
    gamma: np.ndarray
    """(n, m) gamma0 LUT."""
    dn: np.ndarray
    """(n, m) DN LUT."""
    absolute_calibration_constant: float
    """Already folded into the LUTs by the processor (ESA's calibration note), so not applied
    again; kept for the QA record."""


@dataclass(frozen=True)
class AzimuthNoiseBlock:
    """One block of the azimuth noise profile: a sub-swath over a range of lines."""

    swath: str
    first_line: int
    last_line: int
    first_sample: int
    last_sample: int
    lines: np.ndarray
    """(k,) lines at which ``values`` are given, increasing."""
    values: np.ndarray
    """(k,) multiplicative factors applied to the range noise inside the block."""


@dataclass(frozen=True)
class NoiseLUT:
    """Thermal noise of one polarisation, in the DN^2 units of the image."""

    range_lines: np.ndarray
    """(n,) line of each range vector, increasing."""
    range_pixels: tuple[np.ndarray, ...]
    """Pixel positions of each range vector; they differ between vectors (sub-swath edges)."""
    range_values: tuple[np.ndarray, ...]
    """Noise power of each range vector at its pixels."""
    azimuth_blocks: tuple[AzimuthNoiseBlock, ...]
    """Empty for products before IPF 2.9, whose noise is the range LUT alone."""


@dataclass(frozen=True)
class Geolocation:
    """The product annotation's geolocation grid and the image facts that go with it."""

    line: np.ndarray
    """(k,) line of each grid point; the other point arrays are aligned with it."""
    pixel: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    height: np.ndarray
    incidence_angle: np.ndarray
    """(k,) ellipsoid incidence angle in degrees."""
    elevation_angle: np.ndarray
    pass_direction: str
    """``"ascending"`` or ``"descending"``."""
    number_of_samples: int
    number_of_lines: int
    range_pixel_spacing: float
    azimuth_pixel_spacing: float
    platform_heading: float | None
    """Degrees clockwise from north, or None when the annotation does not give it."""


def parse_calibration(xml: bytes | str) -> CalibrationLUT:
    """The calibration LUTs of a ``calibration-*.xml`` annotation.

    Vectors normally share their pixel positions. If they do not, each vector is resampled
    linearly onto the union of all positions; since the union contains every vector's own
    positions, this changes none of the values that interpolation along pixels gives.
    """
    root = ET.fromstring(xml)
    vectors = root.findall("calibrationVectorList/calibrationVector")
    if not vectors:
        raise ValueError("the calibration annotation holds no calibrationVector")
    lines = _increasing("calibration lines", [_int(v, "line") for v in vectors])
    own_pixels = [_increasing("calibration pixels", _floats(v, "pixel")) for v in vectors]
    pixels = np.unique(np.concatenate(own_pixels))

    def lut(tag: str) -> np.ndarray:
        return np.stack(
            [
                np.interp(pixels, p, _floats(v, tag))
                for p, v in zip(own_pixels, vectors, strict=True)
            ]
        )

    return CalibrationLUT(
        lines=lines,
        pixels=pixels,
        sigma_nought=lut("sigmaNought"),
        beta_nought=lut("betaNought"),
        gamma=lut("gamma"),
        dn=lut("dn"),
        absolute_calibration_constant=float(
            _text(root, "calibrationInformation/absoluteCalibrationConstant")
        ),
    )


def parse_noise(xml: bytes | str) -> NoiseLUT:
    """The thermal noise LUTs of a ``noise-*.xml`` annotation, in either layout: range and
    azimuth vectors (IPF 2.9 and later), or the older ``noiseVectorList`` of range vectors
    only (element ``noiseLut``)."""
    root = ET.fromstring(xml)
    vectors = root.findall("noiseRangeVectorList/noiseRangeVector")
    lut_tag = "noiseRangeLut"
    if not vectors:
        vectors = root.findall("noiseVectorList/noiseVector")
        lut_tag = "noiseLut"
    if not vectors:
        raise ValueError("the noise annotation holds neither noiseRangeVector nor noiseVector")
    blocks = tuple(
        AzimuthNoiseBlock(
            swath=_text(block, "swath"),
            first_line=_int(block, "firstAzimuthLine"),
            last_line=_int(block, "lastAzimuthLine"),
            first_sample=_int(block, "firstRangeSample"),
            last_sample=_int(block, "lastRangeSample"),
            lines=_increasing("azimuth noise lines", _floats(block, "line")),
            values=_floats(block, "noiseAzimuthLut"),
        )
        for block in root.findall("noiseAzimuthVectorList/noiseAzimuthVector")
    )
    return NoiseLUT(
        range_lines=_increasing("noise lines", [_int(v, "line") for v in vectors]),
        range_pixels=tuple(_increasing("noise pixels", _floats(v, "pixel")) for v in vectors),
        range_values=tuple(_floats(v, lut_tag) for v in vectors),
        azimuth_blocks=blocks,
    )


def parse_geolocation(xml: bytes | str) -> Geolocation:
    """The geolocation grid and image facts of a product annotation (``<mode>-<pol>.xml``)."""
    root = ET.fromstring(xml)
    points = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    if not points:
        raise ValueError("the product annotation holds no geolocationGridPoint")

    def column(tag: str) -> np.ndarray:
        return np.array([float(_text(p, tag)) for p in points])

    info = "imageAnnotation/imageInformation/"
    heading = root.find("generalAnnotation/productInformation/platformHeading")
    pass_direction = _text(root, "generalAnnotation/productInformation/pass").lower()
    if pass_direction not in NOMINAL_HEADING_DEG:
        raise ValueError(f"unknown pass direction {pass_direction!r}")
    return Geolocation(
        line=column("line"),
        pixel=column("pixel"),
        latitude=column("latitude"),
        longitude=column("longitude"),
        height=column("height"),
        incidence_angle=column("incidenceAngle"),
        elevation_angle=column("elevationAngle"),
        pass_direction=pass_direction,
        number_of_samples=_int(root, info + "numberOfSamples"),
        number_of_lines=_int(root, info + "numberOfLines"),
        range_pixel_spacing=float(_text(root, info + "rangePixelSpacing")),
        azimuth_pixel_spacing=float(_text(root, info + "azimuthPixelSpacing")),
        platform_heading=None if heading is None else float(heading.text),
    )


def _element(parent: ET.Element, path: str) -> ET.Element:
    element = parent.find(path)
    if element is None or element.text is None:
        raise ValueError(f"annotation element {path!r} is missing")
    return element


def _text(parent: ET.Element, path: str) -> str:
    return str(_element(parent, path).text)


def _int(parent: ET.Element, path: str) -> int:
    return int(_text(parent, path))


def _floats(parent: ET.Element, path: str) -> np.ndarray:
    """A space-separated list of numbers, checked against its ``count`` attribute."""
    element = _element(parent, path)
    values = np.array(str(element.text).split(), dtype=np.float64)
    count = element.get("count")
    if count is not None and int(count) != len(values):
        raise ValueError(f"annotation list {path!r} has {len(values)} values, count={count}")
    return values


def _increasing(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if (np.diff(values) <= 0).any():
        raise ValueError(f"{name} are not strictly increasing")
    return values


# --- LUT interpolation --------------------------------------------------------------------


def interpolate_lut(
    lines: np.ndarray,
    pixels: np.ndarray,
    values: np.ndarray,
    at_lines: np.ndarray,
    at_pixels: np.ndarray,
) -> np.ndarray:
    """Bilinear interpolation of ``values`` (len(lines), len(pixels)) at every (line, pixel)
    of the window ``at_lines`` x ``at_pixels``; returns (len(at_lines), len(at_pixels)).

    Outside the grid the nearest edge value is used (clamping): the LUTs cover the image, so
    this only matters for the last fraction of a pixel and for windows that overhang it.
    """
    if values.shape != (len(lines), len(pixels)):
        raise ValueError(f"LUT of shape {values.shape} for {len(lines)} x {len(pixels)} knots")
    lower, upper, weight = _bracket(pixels, at_pixels)
    along_pixels = values[:, lower] * (1 - weight) + values[:, upper] * weight
    return _between_vectors(lines, along_pixels, at_lines)


def interpolate_vectors(
    lines: np.ndarray,
    pixels: Sequence[np.ndarray],
    values: Sequence[np.ndarray],
    at_lines: np.ndarray,
    at_pixels: np.ndarray,
) -> np.ndarray:
    """Like :func:`interpolate_lut` for vectors whose pixel positions differ: each vector is
    interpolated along pixels at ``at_pixels``, then the results linearly between vectors at
    ``at_lines``. Clamped outside each vector and outside the lines."""
    along_pixels = np.stack(
        [np.interp(at_pixels, p, v) for p, v in zip(pixels, values, strict=True)]
    )
    return _between_vectors(lines, along_pixels, at_lines)


def range_noise(noise: NoiseLUT, at_lines: np.ndarray, at_pixels: np.ndarray) -> np.ndarray:
    """The range noise LUT on the window ``at_lines`` x ``at_pixels``."""
    return interpolate_vectors(
        noise.range_lines, noise.range_pixels, noise.range_values, at_lines, at_pixels
    )


def azimuth_noise(noise: NoiseLUT, at_lines: np.ndarray, at_pixels: np.ndarray) -> np.ndarray:
    """The azimuth noise factor on the window ``at_lines`` x ``at_pixels``.

    Each block applies to lines ``first_line..last_line`` and samples
    ``first_sample..last_sample`` (inclusive; as intervals ``[first, last + 1)`` so that
    fractional coordinates between two sub-swaths fall in exactly one), interpolated linearly
    along lines and clamped at the block's first and last line. Outside every block the factor
    is 1, so the range noise applies unscaled there, as it does for products with no azimuth
    vectors at all.
    """
    at_lines = np.asarray(at_lines, dtype=np.float64)
    at_pixels = np.asarray(at_pixels, dtype=np.float64)
    factor = np.ones((len(at_lines), len(at_pixels)))
    for block in noise.azimuth_blocks:
        rows = (at_lines >= block.first_line) & (at_lines < block.last_line + 1)
        cols = (at_pixels >= block.first_sample) & (at_pixels < block.last_sample + 1)
        profile = np.interp(at_lines[rows], block.lines, block.values)
        factor[np.ix_(rows, cols)] = profile[:, None]
    return factor


def thermal_noise(noise: NoiseLUT, at_lines: np.ndarray, at_pixels: np.ndarray) -> np.ndarray:
    """Noise power (DN^2 units) on the window: range LUT times azimuth factor."""
    return range_noise(noise, at_lines, at_pixels) * azimuth_noise(noise, at_lines, at_pixels)


def relief_shift_px(
    height_m: np.ndarray,
    reference_height_m: np.ndarray,
    incidence_deg: np.ndarray,
    range_spacing_m: float,
) -> np.ndarray:
    """How many pixels nearer the sensor (toward pixel 0) a point at ``height_m`` is imaged
    than the geolocation grid places a point at ``reference_height_m`` (the grid's heights
    interpolated there): a GRD image is projected onto the ground at the grid's heights, and a
    point dh higher has a slant range shorter by dh cos(theta), which that projection shows as
    dh / tan(theta) of ground range (the range-Doppler relation to first order: at Sentinel-1's
    700 km range the incidence barely changes over the height differences of one tile)."""
    return (height_m - reference_height_m) / (np.tan(np.radians(incidence_deg)) * range_spacing_m)


def incidence_angle(geo: Geolocation, at_lines: np.ndarray, at_pixels: np.ndarray) -> np.ndarray:
    """Ellipsoid incidence angle (degrees) on the window, interpolated from the geolocation
    grid line by line (each grid line may have its own pixel positions), clamped outside."""
    lines, groups = _grid_lines(geo)
    return interpolate_vectors(
        lines,
        [geo.pixel[g] for g in groups],
        [geo.incidence_angle[g] for g in groups],
        at_lines,
        at_pixels,
    )


def grid_values_at(
    geo: Geolocation,
    columns: Sequence[np.ndarray],
    at_lines: np.ndarray,
    at_pixels: np.ndarray,
) -> list[np.ndarray]:
    """Each of the geolocation grid's ``columns`` (one value per grid point, aligned with
    ``geo.line``) at scattered image positions ``at_lines``, ``at_pixels`` (arrays of one
    shape): linear along each grid line's pixels, then between grid lines, as the grid's lines
    and pixels are laid out; clamped outside, NaN at NaN positions."""
    lines, groups = _grid_lines(geo)
    # Every grid line resampled onto the pixels of all of them: along its own pixels the
    # interpolation is unchanged, and the values then form one table, bilinear between knots.
    knots = np.unique(geo.pixel)
    line_below, line_above, line_weight = _bracket(lines, at_lines)
    pixel_below, pixel_above, pixel_weight = _bracket(knots, at_pixels)
    found = []
    for values in columns:
        table = np.stack([np.interp(knots, geo.pixel[g], values[g]) for g in groups])
        upper = table[line_below, pixel_below] + pixel_weight * (
            table[line_below, pixel_above] - table[line_below, pixel_below]
        )
        lower = table[line_above, pixel_below] + pixel_weight * (
            table[line_above, pixel_above] - table[line_above, pixel_below]
        )
        found.append(upper + line_weight * (lower - upper))
    return found


def _grid_lines(geo: Geolocation) -> tuple[np.ndarray, list[np.ndarray]]:
    """The geolocation grid's lines, ascending, and the indices of each line's points in
    pixel order."""
    order = np.lexsort((geo.pixel, geo.line))
    lines, starts = np.unique(geo.line[order], return_index=True)
    return lines, np.split(order, starts[1:])


def _bracket(knots: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``at``: the index of the knot at or below it, the index of the next knot,
    and the weight of that next knot; positions beyond the end knots are clamped to them."""
    knots = np.asarray(knots, dtype=np.float64)
    at = np.clip(np.asarray(at, dtype=np.float64), knots[0], knots[-1])
    last = len(knots) - 1
    lower = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, max(last - 1, 0))
    upper = np.minimum(lower + 1, last)
    span = knots[upper] - knots[lower]
    # A single knot has no span: its value holds everywhere.
    weight = np.divide(at - knots[lower], span, out=np.zeros_like(at), where=span > 0)
    return lower, upper, weight


def _between_vectors(lines: np.ndarray, along: np.ndarray, at_lines: np.ndarray) -> np.ndarray:
    """Linear interpolation between the rows of ``along`` (one per vector) at ``at_lines``."""
    lower, upper, weight = _bracket(lines, at_lines)
    weight = weight[:, None]
    return along[lower] * (1 - weight) + along[upper] * weight


# --- Calibration --------------------------------------------------------------------------


def gamma0(dn: np.ndarray, gamma_lut: np.ndarray, noise: np.ndarray | float) -> np.ndarray:
    """Gamma0 (linear power, float32) = max(DN^2 - noise, 0) / gammaLUT^2.

    The noise-subtracted power is floored at 0 (noise can exceed a dark pixel's power, and a
    negative backscatter means nothing); DN 0 is the GRD's nodata and becomes NaN. The LUT
    and noise are the annotation LUTs interpolated on the same window as ``dn``.
    """
    return _calibrate(dn, gamma_lut, noise)


def sigma0(dn: np.ndarray, sigma_lut: np.ndarray, noise: np.ndarray | float) -> np.ndarray:
    """Sigma0 likewise, with the sigmaNought LUT."""
    return _calibrate(dn, sigma_lut, noise)


def _calibrate(dn: np.ndarray, lut: np.ndarray, noise: np.ndarray | float) -> np.ndarray:
    # float64 before squaring: uint16 squares overflow.
    power = np.maximum(dn.astype(np.float64) ** 2 - noise, 0.0)
    return np.where(dn == 0, np.nan, power / lut**2).astype(np.float32)


# --- Terrain flattening -------------------------------------------------------------------


def look_azimuth(pass_direction: str, heading_deg: float | None = None) -> float:
    """Azimuth (degrees clockwise from north) the radar looks toward on the ground.

    Sentinel-1 looks right of its track, so this is the heading + 90: ascending passes
    (heading about -12) look east-north-east, descending ones (about -168) west-south-west.
    Without a heading the nominal one of :data:`NOMINAL_HEADING_DEG` is used.
    """
    if pass_direction not in NOMINAL_HEADING_DEG:
        raise ValueError(f"unknown pass direction {pass_direction!r}")
    if heading_deg is None:
        heading_deg = NOMINAL_HEADING_DEG[pass_direction]
    # A northward heading on a descending pass (or the reverse) means swapped metadata.
    if (np.cos(np.radians(heading_deg)) > 0) != (pass_direction == "ascending"):
        raise ValueError(f"heading {heading_deg} does not fit a {pass_direction} pass")
    return (heading_deg + 90.0) % 360.0


def aspect_degrees(elevation: np.ndarray, dx_m: float, dy_m: float) -> np.ndarray:
    """Aspect in degrees clockwise from north (the way the slope faces, i.e. downhill) with
    the same central differences and cropped border as :func:`loaders.dem.slope_degrees`;
    rows run north to south. Flat ground reads 0, which is harmless: it has no slope to
    correct. Returns (H, W) float32 from (H + 2, W + 2)."""
    dz_east = (elevation[1:-1, 2:] - elevation[1:-1, :-2]) / (2 * dx_m)
    dz_south = (elevation[2:, 1:-1] - elevation[:-2, 1:-1]) / (2 * dy_m)
    # Downhill is minus the gradient: (-dz_east) eastward and (+dz_south) northward.
    return (np.degrees(np.arctan2(-dz_east, dz_south)) % 360.0).astype(np.float32)


def range_slope_angle(
    slope_deg: np.ndarray, aspect_deg: np.ndarray, look_azimuth_deg: float
) -> np.ndarray:
    """Terrain slope in the range (look) plane, degrees, positive where the slope faces the
    sensor: tan(alpha_r) = -tan(slope) * cos(aspect - look)."""
    facing = -np.cos(np.radians(np.asarray(aspect_deg) - look_azimuth_deg))
    return np.degrees(np.arctan(np.tan(np.radians(slope_deg)) * facing))


def local_incidence_angle(
    incidence_deg: np.ndarray,
    slope_deg: np.ndarray,
    aspect_deg: np.ndarray,
    look_azimuth_deg: float,
) -> np.ndarray:
    """Local incidence angle in the range plane: theta - alpha_r, degrees.

    This is the angle that decides layover (<= 0: the slope faces the sensor more steeply
    than the beam) and shadow (>= 90: it faces away more steeply than the beam grazes). It
    ignores the slope along azimuth, which tilts the full 3-D angle but, for a plane facet,
    cancels out of the flattening below.
    """
    return incidence_deg - range_slope_angle(slope_deg, aspect_deg, look_azimuth_deg)


def layover_and_shadow(
    incidence_deg: np.ndarray,
    slope_deg: np.ndarray,
    aspect_deg: np.ndarray,
    look_azimuth_deg: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Where the ground is in layover (local incidence <= 0) and where in radar shadow
    (>= 90), the pixels :func:`flatten_gamma0` masks: two bool arrays."""
    local = local_incidence_angle(incidence_deg, slope_deg, aspect_deg, look_azimuth_deg)
    return local <= 0, local >= 90


def flatten_gamma0(
    gamma0_ellipsoid: np.ndarray,
    incidence_deg: np.ndarray,
    slope_deg: np.ndarray,
    aspect_deg: np.ndarray,
    look_azimuth_deg: float,
) -> np.ndarray:
    """Terrain-flattened gamma0 (float32): gamma0 * tan(theta - alpha_r) / tan(theta).

    The model: each output pixel is a plane facet (the DEM's slope and aspect on the output
    grid) and the backscatter is normalised by the facet's area seen across the line of
    sight instead of the ellipsoid's (Ulander 1996's projection angle with Small 2011's gamma
    normalisation, reduced to one facet). For a plane the along-azimuth tilt cancels, which
    leaves the angular volume model of Hoekman & Reiche (2015) / Vollrath et al. (2020),
    suited to vegetation canopies. Flat ground is left as it is; a slope facing the sensor,
    which gathers more ground per radar pixel and looks brighter, is darkened, and one facing
    away is brightened.

    Limits: each pixel is corrected from its own facet, so areas folded together by layover
    or hidden behind a ridge (terrain shadow cast by other slopes) are not modelled; only the
    local test masks them, NaN where theta - alpha_r <= 0 (layover) or >= 90 (shadow).
    ``incidence_deg`` is the ellipsoid incidence angle of the geolocation grid, and the
    heading is taken as constant across the tile.
    """
    theta = np.radians(incidence_deg)
    local = np.radians(
        local_incidence_angle(incidence_deg, slope_deg, aspect_deg, look_azimuth_deg)
    )
    valid = (local > 0) & (local < np.pi / 2)
    flat = gamma0_ellipsoid * np.tan(np.where(valid, local, theta)) / np.tan(theta)
    return np.where(valid, flat, np.nan).astype(np.float32)


# --- Quarters and compositing -------------------------------------------------------------


def quarter_of(date: dt.date, year: int) -> int | None:
    """Index (0-3) of the quarter of ``year`` whose window holds ``date``, else None."""
    day = _as_date(date)
    for q, ((m0, d0), (m1, d1)) in enumerate(QUARTERS):
        if dt.date(year, m0, d0) <= day <= dt.date(year, m1, d1):
            return q
    return None


def select_quarter_scenes(
    dates: Sequence[dt.date],
    footprints: np.ndarray,
    year: int,
    min_coverage: float = 0.95,
    max_scenes: int = 6,
) -> list[list[int]]:
    """Indices of the scenes to composite in each quarter, largest coverage first.

    ``footprints`` (n, h, w) bool marks the cells of a coarse grid over the tile that each
    scene covers. Scenes are taken by covered fraction, largest first (earlier date on ties).
    One covering at least ``min_coverage`` of the tile is always kept: every such scene adds
    looks to the median. A partial scene is kept only if it covers cells that the scenes kept
    so far leave uncovered; one that only repeats them would add reads and swath-edge
    artefacts for a few more looks. At most ``max_scenes`` per quarter, which bounds the reads.
    """
    footprints = np.asarray(footprints, dtype=bool)
    if len(dates) != len(footprints):
        raise ValueError(f"{len(dates)} dates but {len(footprints)} footprints")
    fractions = footprints.reshape(len(footprints), -1).mean(axis=1)
    chosen: list[list[int]] = [[] for _ in QUARTERS]
    covered = np.zeros((len(QUARTERS), *footprints.shape[1:]), dtype=bool)
    for i in sorted(range(len(dates)), key=lambda i: (-fractions[i], _as_date(dates[i]))):
        q = quarter_of(dates[i], year)
        if q is None or len(chosen[q]) >= max_scenes:
            continue
        if fractions[i] >= min_coverage or (footprints[i] & ~covered[q]).any():
            chosen[q].append(i)
            covered[q] |= footprints[i]
    return chosen


def fill_missing_quarters(quarter_has_data: Sequence[bool]) -> list[int]:
    """For each quarter, the quarter whose composite stands in for it: itself if it has data,
    else the nearest one in time within the year (ties to the earlier). The year is not
    wrapped: October-December and January-March of one year are nine months apart."""
    if not any(quarter_has_data):
        raise ValueError("no quarter has data to stand in for the others")
    return [
        next(p for p in _nearest_first(q, len(quarter_has_data)) if quarter_has_data[p])
        for q in range(len(quarter_has_data))
    ]


def fill_gaps(quarters: np.ndarray) -> np.ndarray:
    """The quarterly composites (4, ...) with each NaN taken from the nearest quarter that has
    a value at that pixel (the order of :func:`fill_missing_quarters`); NaN only where no
    quarter has one."""
    filled = quarters.copy()
    for q in range(len(quarters)):
        for p in _nearest_first(q, len(quarters))[1:]:
            filled[q] = np.where(np.isnan(filled[q]), quarters[p], filled[q])
    return filled


def _nearest_first(q: int, n: int) -> list[int]:
    return sorted(range(n), key=lambda p: (abs(p - q), p))


def median_composite(stack: np.ndarray) -> np.ndarray:
    """Per-pixel median over the scenes (axis 0) ignoring NaN; NaN where every scene is.
    The median (not the mean) so that one scene's bright outlier does not carry through."""
    ordered = np.sort(stack, axis=0)  # NaN sorts last
    count = np.sum(~np.isnan(stack), axis=0)
    # With no valid value both picks land on the first, NaN, entry.
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    return ((low + high) / 2).astype(np.float32)


def encode_s1(quarters: np.ndarray) -> np.ndarray:
    """The S1 ARD array: (4, H, W, 2) linear gamma0 (VV, VH) -> uint16 (12, H, W, 2), values
    clipped to [0, 1], x 65535 and rounded, NaN written as 0, each quarter repeated 3 times."""
    if quarters.ndim != 4 or quarters.shape[0] != len(QUARTERS) or quarters.shape[-1] != 2:
        raise ValueError(f"expected (4, H, W, 2) quarters, got {quarters.shape}")
    scaled = np.rint(np.clip(np.nan_to_num(quarters, nan=0.0), 0.0, 1.0) * 65535)
    return np.repeat(scaled.astype(np.uint16), 3, axis=0)


def _as_date(value: dt.date) -> dt.date:
    # A datetime is a date, but the two do not compare: reduce it to its (UTC) day.
    return value.date() if isinstance(value, dt.datetime) else value
