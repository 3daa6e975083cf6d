"""The generator's own calibration and thermal noise LUTs, and their values on the image.

A scene's DN are rendered through these arrays, never through a reader of the annotations,
so the loader's parsers are tested by reading the annotations back to them. The arrays hold
the values exactly as the annotations write them (seven significant digits): a reader gets
back the very LUTs the DN were made with.

The LUTs follow the real files: calibration vectors every :data:`LUT_LINE_STEP` lines (the
last past the image) at knots every :data:`LUT_PIXEL_STEP` pixels, with a constant
betaNought; range noise vectors with their own knots (the sub-swath edges added) and, from
IPF 2.90, one azimuth noise vector per sub-swath in the image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from demo_archive.s1.radar import SUBSWATH_FIRST, SWATH_SAMPLES, RadarGrid

#: betaNought LUT value of the real annotation (constant across the swath), and thermal
#: noise of each sub-swath at its centre (DN^2; higher towards the sub-swath edges).
BETA_NOUGHT = 474.0
NOISE_CENTRE = (1350.0, 740.0, 380.0)
NOISE_EDGE_GAIN = 0.8
#: The VH channel's receiver is a little quieter than VV's.
VH_NOISE_FACTOR = 0.93
#: Spacing of the LUT vectors (lines) and of their knots (pixels), as in the real files.
LUT_LINE_STEP, LUT_PIXEL_STEP, AZIMUTH_NOISE_STEP = 100, 40, 10
#: How the annotations write LUT values.
LUT_FORMAT = "{:.6e}"


@dataclass(frozen=True)
class Calibration:
    """The calibration LUTs of a scene (both polarisations share them)."""

    lines: np.ndarray
    """(n,) line of each vector, the last past the image."""
    pixels: np.ndarray
    """(m,) knots shared by every vector."""
    luts: dict[str, np.ndarray]
    """``sigmaNought``, ``betaNought``, ``gamma`` and ``dn``: (n, m) each; DN^2 / LUT^2 is
    the backscatter."""


@dataclass(frozen=True)
class AzimuthNoise:
    """One sub-swath's azimuth noise vector: a factor on the range noise over its samples."""

    swath: str
    first_sample: int
    last_sample: int
    lines: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Noise:
    """The thermal noise LUTs of one polarisation (DN^2)."""

    lines: np.ndarray
    """(n,) line of each range vector, the last the image's last line."""
    pixels: np.ndarray
    """(m,) knots of the range vectors, sub-swath edges included."""
    range_values: np.ndarray
    """(n, m) noise power."""
    azimuth: tuple[AzimuthNoise, ...]
    """Empty before IPF 2.90, whose noise is the range LUT alone."""


def as_written(values: np.ndarray, fmt: str = LUT_FORMAT) -> np.ndarray:
    """The values as a reader gets them back from the annotation's text."""
    return np.array([fmt.format(v) for v in np.ravel(values)], dtype=np.float64).reshape(
        np.shape(values)
    )


def knots(count: int, step: int, extra: Sequence[int] = ()) -> np.ndarray:
    """0, step, 2 step, ... and the last index (and any ``extra`` inside), increasing."""
    inside = [k for k in extra if 0 < k < count - 1]
    return np.unique(np.array([*range(0, count, step), count - 1, *inside], dtype=np.int64))


def calibration(grid: RadarGrid) -> Calibration:
    """The calibration LUTs: betaNought constant, sigma0 = beta0 sin(theta) and
    gamma0 = sigma0 / cos(theta) giving the others (LUT^2 divides the power)."""
    pixels = knots(grid.samples, LUT_PIXEL_STEP)
    theta = np.radians(grid.incidence(pixels))
    beta = np.full(len(pixels), BETA_NOUGHT)
    vectors = {
        "sigmaNought": beta / np.sqrt(np.sin(theta)),
        "betaNought": beta,
        "gamma": beta / np.sqrt(np.tan(theta)),
        "dn": beta,
    }
    lines = np.arange(0, grid.lines - 1 + LUT_LINE_STEP, LUT_LINE_STEP)
    luts = {tag: np.tile(as_written(v), (len(lines), 1)) for tag, v in vectors.items()}
    return Calibration(lines, pixels, luts)


def noise(grid: RadarGrid, pol: str, azimuth_vectors: bool) -> Noise:
    """The thermal noise LUTs: range vectors with a slow drift along the datatake, and with
    ``azimuth_vectors`` a burst-scale ripple of a few per cent per sub-swath in the image."""
    lines = knots(grid.lines, LUT_LINE_STEP)
    pixels = knots(grid.samples, LUT_PIXEL_STEP, subswath_edges(grid))
    power = range_noise_power(grid.swath_sample + pixels)
    if pol == "vh":
        power = power * VH_NOISE_FACTOR
    # math.sin per vector: the same drift whichever lines are asked together.
    drift = [1 + 0.02 * math.sin((grid.first_line + line) / 3000) for line in lines]
    range_values = np.stack([as_written(power * d) for d in drift])
    azimuth = ()
    if azimuth_vectors:
        az_lines = knots(grid.lines, AZIMUTH_NOISE_STEP)
        ripple = 1.03 + 0.03 * np.sin(2 * np.pi * (grid.first_line + az_lines) / 1400)
        azimuth = tuple(
            AzimuthNoise(swath, first, last, az_lines.astype(np.float64), as_written(ripple))
            for swath, first, last in azimuth_blocks(grid)
        )
    return Noise(lines, pixels, range_values, azimuth)


def subswath_edges(grid: RadarGrid) -> list[int]:
    """Image pixels where a sub-swath begins, and the last pixel of the one before."""
    starts = [b - grid.swath_sample for b in SUBSWATH_FIRST[1:]]
    return [k for b in starts for k in (b - 1, b)]


def range_noise_power(swath_sample: np.ndarray) -> np.ndarray:
    """Thermal noise (DN^2) across the full swath: each sub-swath's antenna pattern is
    weakest at its centre, so the noise rises towards its edges (the real LUT's scallops)."""
    bounds = np.array([*SUBSWATH_FIRST, SWATH_SAMPLES])
    k = np.clip(np.searchsorted(bounds, swath_sample, side="right") - 1, 0, 2)
    centre, half = (bounds[k] + bounds[k + 1]) / 2, (bounds[k + 1] - bounds[k]) / 2
    return np.array(NOISE_CENTRE)[k] * (1 + NOISE_EDGE_GAIN * ((swath_sample - centre) / half) ** 2)


def azimuth_blocks(grid: RadarGrid) -> list[tuple[str, int, int]]:
    """(swath, first sample, last sample) of each sub-swath inside the image."""
    bounds = [*SUBSWATH_FIRST, SWATH_SAMPLES]
    blocks = []
    for k in range(3):
        first = max(bounds[k] - grid.swath_sample, 0)
        last = min(bounds[k + 1] - 1 - grid.swath_sample, grid.samples - 1)
        if first <= last:
            blocks.append((f"IW{k + 1}", first, last))
    return blocks


# --- On the image -------------------------------------------------------------------------


def gamma_on_image(cal: Calibration, grid: RadarGrid) -> np.ndarray:
    """(lines, samples) gamma0 LUT at every image pixel: bilinear between the knots, as the
    product specification prescribes (along pixels within each vector, then between
    vectors)."""
    lines, pixels = _image_axes(grid)
    lower, upper, weight = _bracket(cal.pixels, pixels)
    values = cal.luts["gamma"]
    along_pixels = values[:, lower] * (1 - weight) + values[:, upper] * weight
    return _between_vectors(cal.lines, along_pixels, lines)


def noise_on_image(lut: Noise, grid: RadarGrid) -> np.ndarray:
    """(lines, samples) noise power at every image pixel: the range vectors linear along
    pixels and between vectors, times each sub-swath's azimuth vector linear along lines."""
    lines, pixels = _image_axes(grid)
    along_pixels = np.stack([np.interp(pixels, lut.pixels, v) for v in lut.range_values])
    range_noise = _between_vectors(lut.lines, along_pixels, lines)
    factor = np.ones((len(lines), len(pixels)))
    for block in lut.azimuth:
        columns = slice(block.first_sample, block.last_sample + 1)
        factor[:, columns] = np.interp(lines, block.lines, block.values)[:, None]
    return range_noise * factor


def _image_axes(grid: RadarGrid) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(grid.lines, dtype=np.float64), np.arange(grid.samples, dtype=np.float64)


def _bracket(knots: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``at``: the knot at or below it, the next knot, and the next knot's weight
    (clamped to the end knots)."""
    knots = np.asarray(knots, dtype=np.float64)
    at = np.clip(at, knots[0], knots[-1])
    last = len(knots) - 1
    lower = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, max(last - 1, 0))
    upper = np.minimum(lower + 1, last)
    span = knots[upper] - knots[lower]
    weight = np.divide(at - knots[lower], span, out=np.zeros_like(at), where=span > 0)
    return lower, upper, weight


def _between_vectors(lines: np.ndarray, along: np.ndarray, at_lines: np.ndarray) -> np.ndarray:
    """Linear interpolation between the rows of ``along`` (one per vector) at ``at_lines``."""
    lower, upper, weight = _bracket(lines, at_lines)
    weight = weight[:, None]
    return along[lower] * (1 - weight) + along[upper] * weight
