"""Sky and ground of the demo Sentinel-2 archive: functions of (date, lon, lat) only.

Nothing here knows about granules, so two granules seen on the same day show the same clouds
and the same ground where they overlap, as real Sentinel-2 granules of one datatake do. Every
field is evaluated on a grid (a row of longitudes times a column of latitudes) with the
terrain's hashed-lattice noise, seeded by the date; the archive samples it on the global
lattice of :data:`LATTICE_PER_DEG` nodes per degree.

Clouds are a smooth noise field above a threshold set by the day's cloud amount, which follows
a wet season that moves with the sun (the intertropical convergence zone: at 6.6°N it is wet
from April to October); a node is in shadow when a cloud stands between it and the sun; some
days carry thin cirrus, and rare nodes are dark or unclassified. Ground is forest, savanna or
cropland, and bare soil in patches, and the terrain's lakes; vegetation greens up a month into
the wet season. There is no snow: the demo terrain stays below 2,000 m.

Per-row quantities use Python's ``math`` and never numpy's vectorised transcendental functions,
whose last bit may depend on the array's length: a node must get the same value whatever
window it is evaluated in, or a grown archive would not keep its old pixels.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri

# The terrain's noise, so that the archive's fields share one seed and one lattice scheme.
from demo_archive.terrain import PointGrid, fbm, smoothstep, surface, uniform

#: Nodes per degree of the lattice the archive samples every field on (~150 m).
LATTICE_PER_DEG = 720

#: SCL classes (Sentinel-2 L2A scene classification).
NO_DATA, DARK_AREA, CLOUD_SHADOW, VEGETATION, NOT_VEGETATED, WATER = 0, 2, 3, 4, 5, 6
UNCLASSIFIED, CLOUD_MEDIUM, CLOUD_HIGH, THIN_CIRRUS = 7, 8, 9, 10
CLOUD_CLASSES = (CLOUD_MEDIUM, CLOUD_HIGH)

#: Ground covers.
FOREST, SAVANNA, BARE, LAKE = 0, 1, 2, 3

#: Reflectance of each cover in the dry season and fully green, bands in the order of
#: :data:`BAND_ORDER`; lakes do not change. Dense forest is as dark in blue as real tropical
#: forest (under 0.02): the dark tail by which pixels show the BOA offset.
BAND_ORDER = ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B8A", "B11", "B12")
_DRY = np.array(
    [
        [0.019, 0.050, 0.032, 0.300, 0.085, 0.220, 0.280, 0.310, 0.180, 0.090],
        [0.070, 0.100, 0.130, 0.220, 0.160, 0.190, 0.210, 0.230, 0.300, 0.220],
        [0.100, 0.140, 0.190, 0.260, 0.220, 0.240, 0.250, 0.270, 0.330, 0.270],
        [0.050, 0.050, 0.030, 0.020, 0.030, 0.020, 0.020, 0.020, 0.010, 0.010],
    ],
    dtype=np.float32,
)
_GREEN = np.array(
    [
        [0.017, 0.055, 0.028, 0.360, 0.080, 0.260, 0.330, 0.370, 0.170, 0.075],
        [0.040, 0.075, 0.050, 0.320, 0.100, 0.230, 0.290, 0.330, 0.220, 0.110],
        [0.100, 0.140, 0.190, 0.260, 0.220, 0.240, 0.250, 0.270, 0.330, 0.270],
        [0.050, 0.050, 0.030, 0.020, 0.030, 0.020, 0.020, 0.020, 0.010, 0.010],
    ],
    dtype=np.float32,
)
#: Savanna is classed vegetation (SCL 4) once this green, bare ground (5) before.
_SAVANNA_GREEN = 0.45
#: Shadowed and dark-area ground keeps this share of its reflectance; cirrus adds this much.
_SHADOW_FACTOR, _DARK_FACTOR, _CIRRUS_ADD = 0.3, 0.5, 0.03
#: Clouds reflect between these, thicker ones more, the same in every band.
_CLOUD_DIM, _CLOUD_BRIGHT = 0.3, 0.8
#: Cloud density (noise above the threshold) from which a cloud is a high-probability one.
_HIGH_DENSITY = 0.25
#: Cloud tops cast shadows from this height.
CLOUD_HEIGHT_M = 2000.0
#: Share of clear nodes classed unclassified and dark area.
_UNCLASSIFIED_SHARE, _DARK_SHARE = 0.001, 0.002
#: Share of days (regionally) with thin cirrus, and of a cirrus day's sky it covers.
_CIRRUS_DAYS, _CIRRUS_COVER = 0.15, 0.3
#: Local solar time of the Sentinel-2 descending node, hours.
LOCAL_TIME_H = 10.5

_GROUND_SALT = 100
_DAY_SALT = 1_000_000
_METRES_PER_DEG = 111_320.0


class Ground(NamedTuple):
    """Cover class (uint8) and a brightness factor near 1 (float32) per node."""

    cover: np.ndarray
    brightness: np.ndarray


class Sky(NamedTuple):
    """What the sky puts over each node: 0 where it is clear, else its SCL class (cloud,
    shadow, cirrus, dark area or unclassified), and the reflectance of clouds (float32)."""

    scl: np.ndarray
    cloud_reflectance: np.ndarray


def lattice(first: int, count: int) -> np.ndarray:
    """``count`` consecutive lattice coordinates (degrees) from node ``first``."""
    return (first + np.arange(count)) / LATTICE_PER_DEG


def ground(lon: np.ndarray, lat: np.ndarray) -> Ground:
    """The ground on the grid of ``lon`` (1-D, west to east) times ``lat`` (1-D)."""
    grid = PointGrid(lon, lat)
    patches = fbm(grid, 1 / 16, 3, salt=_GROUND_SALT)
    cover = np.where(patches > 0.15, FOREST, np.where(patches > -0.35, SAVANNA, BARE))
    cover = cover.astype(np.uint8)
    cover[surface(lon[None, :], lat[:, None]).water] = LAKE
    brightness = 1 + np.float32(0.08) * fbm(grid, 1 / 256, 2, salt=_GROUND_SALT + 1)
    return Ground(cover, brightness)


def sky(day: date, lon: np.ndarray, lat: np.ndarray) -> Sky:
    """The sky of ``day`` on the grid of ``lon`` times ``lat`` (1-D each), taken at the lattice
    node nearest each point."""
    ix = np.rint(np.asarray(lon) * LATTICE_PER_DEG).astype(np.int64)
    iy = np.rint(np.asarray(lat) * LATTICE_PER_DEG).astype(np.int64)
    # A node is in shadow when the node a cloud height towards the sun is cloudy: one
    # evaluation on a grid holding both serves clouds and shadows.
    shift_x, shift_y = _shadow_shift(day, iy)
    all_x = np.union1d(ix, ix[None, :] + np.unique(shift_x)[:, None])
    all_y = np.union1d(iy, iy + shift_y)
    density_all = cloud_density(day, all_x / LATTICE_PER_DEG, all_y / LATTICE_PER_DEG)
    density = density_all[np.ix_(np.searchsorted(all_y, iy), np.searchsorted(all_x, ix))]
    cloud = density > 0
    caster_rows = np.searchsorted(all_y, iy + shift_y)
    shadow = np.zeros_like(cloud)
    for shift in np.unique(shift_x):
        rows = np.flatnonzero(shift_x == shift)
        columns = np.searchsorted(all_x, ix + shift)
        shadow[rows] = density_all[np.ix_(caster_rows[rows], columns)] > 0
    shadow &= ~cloud
    scl = np.zeros(density.shape, dtype=np.uint8)
    scl[shadow] = CLOUD_SHADOW
    cirrus = _cirrus(day, ix / LATTICE_PER_DEG, iy / LATTICE_PER_DEG) & ~cloud & ~shadow
    scl[cirrus] = THIN_CIRRUS
    odd = uniform(ix[None, :], iy[:, None], _day_salt(day) + 7)  # rare odd pixels
    clear = scl == 0
    scl[clear & (odd < _UNCLASSIFIED_SHARE)] = UNCLASSIFIED
    dark = (odd >= _UNCLASSIFIED_SHARE) & (odd < _UNCLASSIFIED_SHARE + _DARK_SHARE)
    scl[clear & dark] = DARK_AREA
    scl[cloud] = np.where(density[cloud] > _HIGH_DENSITY, CLOUD_HIGH, CLOUD_MEDIUM)
    thickness = smoothstep(0.0, 0.8, density)
    cloud_reflectance = _CLOUD_DIM + np.float32(_CLOUD_BRIGHT - _CLOUD_DIM) * thickness
    return Sky(scl, cloud_reflectance.astype(np.float32))


def cloud_density(day: date, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """How far the cloud noise is above the day's threshold (float32; cloud where > 0)."""
    grid = PointGrid(lon, lat)
    salt = _day_salt(day)
    # A weather system hundreds of kilometres across sets the amount; the season scales it.
    regional = ndtr(fbm(grid, 2.0, 1, salt=salt) / np.float32(0.5))
    wet = np.array([wetness(day, float(y)) for y in lat])[:, None]
    amount = np.clip(1.3 * regional + 1.3 * wet - 1.15, 0.0, 1.0)
    threshold = np.clip(0.5 * ndtri(1 - amount), -3.0, 3.0).astype(np.float32)
    return fbm(grid, 1 / 8, 4, salt=salt + 1) - threshold


def wetness(day: date, lat: float) -> float:
    """How wet the season is at ``lat`` on ``day``: 0.1 (dry) to 0.95 (the rain belt's centre).
    The rain belt follows the sun to 10° north in July and 10° south in January; away from the
    tropics mid-latitude weather keeps some cloud all year."""
    belt = 10 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 100) / 365.25)
    tropical = 0.1 + 0.85 * math.exp(-(((lat - belt) / 9) ** 2))
    t = min(max((abs(lat) - 20) / 15, 0.0), 1.0)
    return max(tropical, 0.45 * t * t * (3 - 2 * t))


def greenness(day: date, lat: float) -> float:
    """0 (dry season) to 1 (green): the wetness of a month earlier, as vegetation lags rain."""
    return (wetness(day - timedelta(days=30), lat) - 0.1) / 0.85


def scene_classes(ground: Ground, sky: Sky, day: date, lat: np.ndarray) -> np.ndarray:
    """The SCL class of every node (uint8): the sky's where it is not clear, else the
    ground's (savanna counts as vegetation only when green enough)."""
    green = np.array([greenness(day, float(y)) for y in lat])[:, None] > _SAVANNA_GREEN
    by_cover = np.array([VEGETATION, NOT_VEGETATED, NOT_VEGETATED, WATER], dtype=np.uint8)
    scl = by_cover[ground.cover]
    scl[(ground.cover == SAVANNA) & green] = VEGETATION
    return np.where(sky.scl > 0, sky.scl, scl)


def reflectance(ground: Ground, sky: Sky, day: date, lat: np.ndarray) -> np.ndarray:
    """Surface reflectance (float32, bands of :data:`BAND_ORDER` first) seen through the sky."""
    green = np.array([greenness(day, float(y)) for y in lat], dtype=np.float32)
    dry, lush = _DRY[ground.cover], _GREEN[ground.cover]  # (rows, columns, bands)
    values = dry + green[:, None, None] * (lush - dry)
    values *= ground.brightness[..., None]
    values = np.moveaxis(values, -1, 0)
    values[:, sky.scl == CLOUD_SHADOW] *= _SHADOW_FACTOR
    values[:, sky.scl == DARK_AREA] *= _DARK_FACTOR
    values[:, sky.scl == THIN_CIRRUS] += _CIRRUS_ADD
    cloud = np.isin(sky.scl, CLOUD_CLASSES)
    values[:, cloud] = sky.cloud_reflectance[cloud]
    return values


def sun_position(moment: datetime, lon: float, lat: float) -> tuple[float, float]:
    """Sun azimuth (degrees clockwise from north) and elevation (degrees) at a place and UTC
    time; a textbook approximation (no equation of time), within a degree or two."""
    day_of_year = moment.timetuple().tm_yday
    declination = math.radians(23.44) * math.sin(2 * math.pi * (284 + day_of_year) / 365)
    hours = moment.hour + moment.minute / 60 + moment.second / 3600 + lon / 15
    hour_angle = math.radians(15 * (hours - 12))
    phi = math.radians(lat)
    sin_elevation = math.sin(phi) * math.sin(declination) + math.cos(phi) * math.cos(
        declination
    ) * math.cos(hour_angle)
    azimuth = math.atan2(
        -math.sin(hour_angle),
        math.tan(declination) * math.cos(phi) - math.sin(phi) * math.cos(hour_angle),
    )
    return math.degrees(azimuth) % 360, math.degrees(math.asin(sin_elevation))


def _shadow_shift(day: date, iy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of lattice nodes ``iy``: how many nodes east and north the cloud is that shades
    a node. The sun is taken at the overpass time at the whole degree of latitude nearest the
    row, so the shift is a function of the node alone."""
    degrees = np.rint(iy / LATTICE_PER_DEG).astype(np.int64)
    shift_x = np.zeros(iy.shape, dtype=np.int64)
    shift_y = np.zeros(iy.shape, dtype=np.int64)
    overpass = datetime(day.year, day.month, day.day) + timedelta(hours=LOCAL_TIME_H)
    for degree in np.unique(degrees):
        azimuth, elevation = sun_position(overpass, 0.0, float(degree))
        reach = CLOUD_HEIGHT_M / math.tan(math.radians(max(elevation, 5.0)))
        north = reach * math.cos(math.radians(azimuth)) / _METRES_PER_DEG
        east = reach * math.sin(math.radians(azimuth)) / _METRES_PER_DEG
        east /= math.cos(math.radians(float(degree)))
        rows = degrees == degree
        shift_x[rows] = round(east * LATTICE_PER_DEG)
        shift_y[rows] = round(north * LATTICE_PER_DEG)
    return shift_x, shift_y


def _cirrus(day: date, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Thin cirrus (bool): on some days, in patches."""
    grid = PointGrid(lon, lat)
    salt = _day_salt(day)
    cirrus_day = ndtr(fbm(grid, 2.0, 1, salt=salt + 2) / np.float32(0.5)) > 1 - _CIRRUS_DAYS
    if not cirrus_day.any():
        return cirrus_day
    patches = ndtr(fbm(grid, 1 / 4, 2, salt=salt + 3) / np.float32(0.5)) > 1 - _CIRRUS_COVER
    return cirrus_day & patches


def _day_salt(day: date) -> int:
    """Noise salt of a day's fields: each day its own weather, eight fields apart."""
    return _DAY_SALT + 8 * day.toordinal()
