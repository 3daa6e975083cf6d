"""Synthetic terrain for the demo archive: one continuous elevation field over the whole globe.

Every value comes from smooth noise on hashed integer lattices, so any point can be evaluated on
its own: adjacent cells agree on their shared edges and the same inputs give the same bits on
every run. Plains, hills, ridged mountains, valleys and lakes (flat water at one level per lake,
as the Copernicus DEM flattens water) come from separate fields mixed by low-frequency masks.

Only IEEE-exact operations are used (+ - * /, sqrt, floor, comparisons): numpy's vectorised
transcendental functions may round the last bit differently depending on array length and
alignment, which would make a grid and the same points taken one by one disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

#: Side of the lattice of possible lakes, degrees: at most one lake per lattice square, and each
#: lake and its shore stay inside their square, so lakes never overlap or cross a square's edge.
LAKE_SPACING_DEG = 1 / 4

_SEED = 0x7C3A_5D19_E4B2_06F1
_LAKE_CHANCE = 0.6
#: Shore width and shoreline wiggle, in lake radii and as a relative change of the radius.
_SHORE_END = 1.6
_SHORE_WARP = 0.35
_MAX_ELONGATION = 1.5
#: Farthest reach of a lake's influence from its centre, in lake radii (a little to spare).
_REACH = 1.01 * _MAX_ELONGATION * _SHORE_END / (1 - _SHORE_WARP)
#: A lake whose surroundings span more than this many metres would hang on a slope: none there.
_MAX_RIM_RELIEF = 120.0
#: The lake level is the lowest ground on this ring (in radii) around the lake's centre.
_RIM_RADIUS = 1.3
_RIM_COS = np.array([math.cos(2 * math.pi * k / 16) for k in range(16)])
_RIM_SIN = np.array([math.sin(2 * math.pi * k / 16) for k in range(16)])
#: Within this many degrees of a pole the ground fades to one level, so the pole is one point.
_POLAR_CAP_DEG = 1.0
_POLAR_LEVEL = np.float32(30.0)

#: Rows of a grid evaluated at once: bounds memory (~60 MB for 3600 columns) and stays in cache.
_GRID_ROWS = 256
#: Points evaluated at once when they do not form a grid.
_POINTS_CHUNK = 1 << 17


class Surface(NamedTuple):
    """Elevation (float32 metres) and where it is lake water (bool), same shape."""

    elevation: np.ndarray
    water: np.ndarray


def elevation(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Elevation in metres (float32) at the given longitudes and latitudes (broadcast together).

    A row of longitudes and a column of latitudes (shapes ``(n,)`` or ``(1, n)``, and
    ``(m, 1)``) is evaluated as a grid, much faster than the same points one by one, with the
    same bits.
    """
    return surface(lon, lat).elevation


def surface(lon: np.ndarray, lat: np.ndarray) -> Surface:
    """Elevation and lake water at the given longitudes and latitudes (see :func:`elevation`)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    shape = np.broadcast_shapes(lon.shape, lat.shape)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValueError("longitudes and latitudes must be finite")
    if np.abs(lat).max(initial=0.0) > 90:
        raise ValueError("latitudes must lie within [-90, 90]")
    height = np.empty(shape, dtype=np.float32)
    water = np.empty(shape, dtype=bool)
    if len(shape) == 2 and lon.shape in ((shape[1],), (1, shape[1])) and lat.shape[1:] == (1,):
        row, column = lon.reshape(-1), lat.reshape(-1)
        for start in range(0, shape[0], _GRID_ROWS):
            rows = slice(start, start + _GRID_ROWS)
            height[rows], water[rows] = _evaluate(PointGrid(row, column[rows]))
    else:
        flat_lon = np.broadcast_to(lon, shape).reshape(-1)
        flat_lat = np.broadcast_to(lat, shape).reshape(-1)
        flat_height, flat_water = height.reshape(-1), water.reshape(-1)
        for start in range(0, flat_lon.size, _POINTS_CHUNK):
            part = slice(start, start + _POINTS_CHUNK)
            points = _Points(flat_lon[part], flat_lat[part])
            flat_height[part], flat_water[part] = _evaluate(points)
    return Surface(height, water)


def _evaluate(points: PointGrid | _Points) -> tuple[np.ndarray, np.ndarray]:
    height = _land(points)
    water = _flood(points, height)
    lat = np.broadcast_to(points.lat, points.shape)
    polar = np.abs(lat) > 90 - _POLAR_CAP_DEG
    if polar.any():
        keep = smoothstep(90, 90 - _POLAR_CAP_DEG, np.abs(lat[polar]).astype(np.float32))
        height[polar] = _POLAR_LEVEL + (height[polar] - _POLAR_LEVEL) * keep
    return height, water


# --- The terrain -------------------------------------------------------------------------------


def _land(points: PointGrid | _Points) -> np.ndarray:
    """Ground elevation before lakes, float32 metres."""
    region = fbm(points, 2.0, 1, salt=1)  # broad swells, hundreds of kilometres
    hilly = smoothstep(-0.3, 0.3, fbm(points, 1 / 4, 2, salt=2))  # 0 on plains, 1 in hills
    mountainous = smoothstep(0.5, 1.0, fbm(points, 1 / 2, 2, salt=3))  # rarer ranges
    # Valleys follow the zero lines of a noise field; the ground rises away from them.
    drainage = smoothstep(0.0, 0.6, np.abs(fbm(points, 1 / 16, 3, salt=4)))
    rough = fbm(points, 1 / 32, 5, salt=5, gain=0.55)
    ridges = 1 - np.abs(fbm(points, 1 / 16, 3, salt=6))  # sharp crests along zero lines
    ripples = fbm(points, 1 / 64, 2, salt=7)  # the few metres of relief plains still have
    hills = hilly * (220 + 320 * rough) + mountainous * 700 * ridges * ridges * ridges
    return 200 + 120 * region + 4 * ripples + drainage * (10 + np.maximum(hills, 0))


@dataclass(frozen=True)
class _Lakes:
    """Lakes, one per array element: centre (degrees), radius (degrees), the unit vector of the
    long axis, elongation (the long axis is ``elongation**2`` times the short one), and level
    (float32 metres)."""

    lon: np.ndarray
    lat: np.ndarray
    radius: np.ndarray
    axis_x: np.ndarray
    axis_y: np.ndarray
    elongation: np.ndarray
    level: np.ndarray

    def local(self, i: int, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates along and across lake ``i``, scaled so that its shore is the unit circle
        (before the shoreline wiggle)."""
        dx = (lon - self.lon[i]) / self.radius[i]
        dy = (lat - self.lat[i]) / self.radius[i]
        along = (dx * self.axis_x[i] + dy * self.axis_y[i]) / self.elongation[i]
        across = (dy * self.axis_x[i] - dx * self.axis_y[i]) * self.elongation[i]
        return along, across


def _lakes(cx: np.ndarray, cy: np.ndarray) -> _Lakes:
    """The lakes of the given lake squares (lattice indices); squares without a lake are left
    out. A lake depends only on its square, never on which points asked."""
    u = [uniform(np.mod(cx, round(360 / LAKE_SPACING_DEG)), cy, 1000 + k) for k in range(7)]
    keep = u[0] < _LAKE_CHANCE
    cx, cy, u = cx[keep], cy[keep], [value[keep] for value in u]
    fx, fy = 0.25 + 0.5 * u[1], 0.25 + 0.5 * u[2]
    margin = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy)) * LAKE_SPACING_DEG
    # The largest lakes fill their square.
    radius = margin / _REACH * (0.15 + 0.85 * u[3])
    elongation = 1 + (_MAX_ELONGATION - 1) * u[4]
    ax, ay = 2 * u[5] - 1, 2 * u[6] - 1
    length = np.sqrt(ax * ax + ay * ay)
    straight = length < 0.05  # too short to give a direction: lie east-west
    length = np.where(straight, 1.0, length)
    ax, ay = np.where(straight, 1.0, ax / length), np.where(straight, 0.0, ay / length)
    lon, lat = (cx + fx) * LAKE_SPACING_DEG, (cy + fy) * LAKE_SPACING_DEG
    # The ground on a ring just outside the water sets the level: the lowest point of the rim.
    along = _RIM_RADIUS * _RIM_COS[None, :] * elongation[:, None]
    across = _RIM_RADIUS * _RIM_SIN[None, :] / elongation[:, None]
    rim_lon = lon[:, None] + (along * ax[:, None] - across * ay[:, None]) * radius[:, None]
    rim_lat = lat[:, None] + (along * ay[:, None] + across * ax[:, None]) * radius[:, None]
    rim = _land(_Points(rim_lon, np.clip(rim_lat, -90, 90))).reshape(rim_lon.shape)
    level = rim.min(axis=1, initial=np.inf)
    flat = rim.max(axis=1, initial=-np.inf) - level <= _MAX_RIM_RELIEF
    fields = (lon, lat, radius, ax, ay, elongation, level)
    return _Lakes(*(field[flat] for field in fields))


def _flood(points: PointGrid | _Points, height: np.ndarray) -> np.ndarray:
    """Set lake water flat at each lake's level and blend its shore into the land (in place);
    returns the water mask. Loops over the few lakes near the points, never over pixels."""
    water = np.zeros(points.shape, dtype=bool)
    lakes = _lakes(*points.lake_cells())
    for i in range(lakes.lon.size):
        reach = _REACH * lakes.radius[i]
        near, index = points.window(
            lakes.lon[i] - reach, lakes.lat[i] - reach, lakes.lon[i] + reach, lakes.lat[i] + reach
        )
        if near.size == 0:
            continue
        along, across = lakes.local(i, near.lon, near.lat)
        # Scaling the distance by a noise field makes the shoreline wander.
        wiggle = np.clip(fbm(near, 1 / 128, 2, salt=8), -1, 1)
        distance = np.sqrt(along * along + across * across) * (1 + _SHORE_WARP * wiggle)
        distance = distance.astype(np.float32)
        shore = smoothstep(1.0, _SHORE_END, distance)
        level = lakes.level[i]
        # Where shore == 0 this is exactly the level: a flat water surface, as in the DEM.
        height[index] = level + (height[index] - level) * shore
        water[index] = distance <= 1
    return water


# --- Noise -------------------------------------------------------------------------------------


def fbm(
    points: PointGrid | _Points, spacing_deg: float, octaves: int, salt: int, gain: float = 0.5
) -> np.ndarray:
    """Fractal sum of smooth noise, the first octave on a lattice ``spacing_deg`` apart (a power
    of two, see :func:`_lattice_values`), each next one twice as fine and ``gain`` times as
    strong; scaled to a standard deviation of about 0.5 whatever the octaves."""
    total = np.zeros(points.shape, dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        points.add_noise(total, 2**octave / spacing_deg, salt * 16 + octave, amplitude)
        norm += amplitude * amplitude
        amplitude *= gain
    total *= np.float32(1 / math.sqrt(norm))
    return total


class PointGrid:
    """The points of a row of longitudes times a column of latitudes."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray):
        self.lon, self.lat = lon[None, :], lat[:, None]
        self.shape = (lat.size, lon.size)
        self.size = lat.size * lon.size

    def add_noise(self, total: np.ndarray, frequency: float, salt: int, amplitude: float) -> None:
        """Add ``amplitude`` times noise with ``frequency`` lattice lines per degree to ``total``.

        The same operations in the same order as :meth:`_Points.add_noise`, hence the same bits,
        but each lattice point is hashed once, the smoothing along x is done once per lattice
        row, and the rows between two lattice lines share their polynomial coefficients.
        """
        if self.size == 0:
            return
        ix, tx = _split(self.lon[0] * frequency)
        iy, ty = _split(self.lat[:, 0] * frequency)
        kx = np.arange(ix.min() - 1, ix.max() + 3)
        ky = np.arange(iy.min() - 1, iy.max() + 3)
        if kx.size * ky.size > 4 * self.size + 4096:  # a sparse grid: per point is cheaper
            points = _Points(*np.broadcast_arrays(self.lon, self.lat))
            points.add_noise(total.reshape(-1), frequency, salt, amplitude)  # a view of total
            return
        lattice = _lattice_values(kx[None, :], ky[:, None], frequency, salt, amplitude)
        jx = ix - kx[0]
        along_x = _bspline(*(lattice[:, jx + offset] for offset in (-1, 0, 1, 2)), tx)
        jy = iy - ky[0]
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(jy)) + 1, [jy.size]])
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            k = jy[start]
            rows = slice(start, stop)
            total[rows] += _bspline(*along_x[k - 1 : k + 3], ty[rows, None])

    def lake_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Lattice indices (x, y) of every lake square holding a point."""
        cx = np.unique(np.floor(self.lon[0] / LAKE_SPACING_DEG)).astype(np.int64)
        cy = np.unique(np.floor(self.lat[:, 0] / LAKE_SPACING_DEG)).astype(np.int64)
        gx, gy = np.meshgrid(cx, cy)
        return gx.reshape(-1), gy.reshape(-1)

    def window(
        self, west: float, south: float, east: float, north: float
    ) -> tuple[PointGrid, tuple[np.ndarray, np.ndarray]]:
        """The points inside the box, and the index that selects them from this grid's arrays."""
        columns = np.flatnonzero((self.lon[0] >= west) & (self.lon[0] <= east))
        rows = np.flatnonzero((self.lat[:, 0] >= south) & (self.lat[:, 0] <= north))
        return PointGrid(self.lon[0, columns], self.lat[rows, 0]), np.ix_(rows, columns)


class _Points:
    """Any points, as two 1-D arrays of equal length."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray):
        self.lon, self.lat = lon.reshape(-1), lat.reshape(-1)
        self.shape = self.lon.shape
        self.size = self.lon.size

    def add_noise(self, total: np.ndarray, frequency: float, salt: int, amplitude: float) -> None:
        ix, tx = _split(self.lon * frequency)
        iy, ty = _split(self.lat * frequency)
        along_x = [
            _bspline(
                *(
                    _lattice_values(ix + dx, iy + dy, frequency, salt, amplitude)
                    for dx in range(-1, 3)
                ),
                tx,
            )
            for dy in range(-1, 3)
        ]
        total += _bspline(*along_x, ty)

    def lake_cells(self) -> tuple[np.ndarray, np.ndarray]:
        cells = np.floor(np.stack([self.lon, self.lat]) / LAKE_SPACING_DEG).astype(np.int64)
        cx, cy = np.unique(cells, axis=1)
        return cx, cy

    def window(
        self, west: float, south: float, east: float, north: float
    ) -> tuple[_Points, np.ndarray]:
        inside = (self.lon >= west) & (self.lon <= east) & (self.lat >= south)
        index = np.flatnonzero(inside & (self.lat <= north))
        return _Points(self.lon[index], self.lat[index]), index


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lattice index at or below ``x`` and the fraction past it."""
    x0 = np.floor(x)
    return x0.astype(np.int64), (x - x0).astype(np.float32)


def _bspline(v0, v1, v2, v3, t: np.ndarray) -> np.ndarray:
    """Uniform cubic B-spline of four consecutive lattice values, at fraction ``t`` between the
    middle two. Smooth (C2) across lattice lines, and its tensor product is nearly round,
    so the noise shows no lattice-aligned shapes (which plain value noise does)."""
    c0 = (v0 + 4 * v1 + v2) * np.float32(1 / 6)
    c1 = (v2 - v0) * np.float32(0.5)
    c2 = (v0 - 2 * v1 + v2) * np.float32(0.5)
    c3 = (v3 - v0 + 3 * (v1 - v2)) * np.float32(1 / 6)
    out = c3 * t  # Horner, in place: the big arrays are (rows, columns)
    out += c2
    out *= t
    out += c1
    out *= t
    out += c0
    return out


def _lattice_values(
    ix: np.ndarray, iy: np.ndarray, frequency: float, salt: int, amplitude: float
) -> np.ndarray:
    """A reproducible float32 in [-2, 2) times ``amplitude`` per lattice point (twice the unit
    range, since the B-spline's averaging narrows it). Longitude wraps at 360 degrees, so the
    antimeridian has no seam: frequencies are powers of two, whole lattice lines per turn."""
    h = _hash(np.mod(ix, round(360 * frequency)), iy, salt)
    unit = (h >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-22) - np.float32(2.0)
    return unit * np.float32(amplitude)


def _hash(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64's finaliser over the lattice point and salt (uint64, wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        h = (np.asarray(ix).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
            np.asarray(iy).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        )
        h ^= np.uint64((_SEED + salt * 0x165667B19E3779F9) % 2**64)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def uniform(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """A reproducible float64 in [0, 1) per integer pair."""
    return (_hash(ix, iy, salt) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - np.float32(edge0)) * np.float32(1 / (edge1 - edge0)), 0, 1)
    return t * t * (3 - 2 * t)
