"""Synthetic terrain for the demo archive: one continuous elevation field over the globe.

Multi-octave value noise on hashed integer lattices, so any point of the globe can be
evaluated on its own: adjacent cells agree on their shared edge, and the same inputs give
bit-identical outputs on every run. Hills, valleys, plains and lakes come from separate
fields mixed by low-frequency masks.
"""

from __future__ import annotations

import numpy as np

#: Elevation of every lake surface, metres: terrain below it is water, flat at this level.
LAKE_LEVEL = 120.0
_SEED = np.uint64(0x7C3A_5D19_E4B2_06F1)


def elevation(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Elevation in metres (float32) at the given longitudes and latitudes (broadcast).

    Pass a row of longitudes and a column of latitudes to evaluate a grid cheaply.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    base = 260 + 140 * fbm(lon, lat, salt=1, spacing_deg=2.0, octaves=2)
    hilliness = smoothstep(-0.15, 0.35, fbm(lon, lat, salt=2, spacing_deg=0.6, octaves=3))
    hills = 380 * fbm(lon, lat, salt=3, spacing_deg=0.08, octaves=6)
    valley_lines = 1 - np.abs(fbm(lon, lat, salt=4, spacing_deg=0.05, octaves=4))
    undulation = 6 * fbm(lon, lat, salt=5, spacing_deg=0.02, octaves=3)
    basin = smoothstep(0.30, 0.50, fbm(lon, lat, salt=6, spacing_deg=0.12, octaves=2))
    terrain = base + undulation + hilliness * (200 + hills - 160 * valley_lines**4)
    # Basins are pulled below the lake level, which then floods them flat.
    terrain = terrain + (LAKE_LEVEL - 30 - terrain) * basin
    return np.maximum(terrain, LAKE_LEVEL).astype(np.float32)


def fbm(lon: np.ndarray, lat: np.ndarray, salt: int, spacing_deg: float, octaves: int):
    """Fractal sum of ``octaves`` value-noise layers, the first with lattice ``spacing_deg``,
    each next one twice as fine and half as strong; roughly within [-1, 1]."""
    total = np.zeros(np.broadcast_shapes(lon.shape, lat.shape))
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        spacing = spacing_deg / 2**octave
        total += amplitude * value_noise(lon / spacing, lat / spacing, salt * 64 + octave)
        norm += amplitude
        amplitude /= 2
    return total / norm


def value_noise(x: np.ndarray, y: np.ndarray, salt: int) -> np.ndarray:
    """Smoothly interpolated random values in [-1, 1] set on the integer lattice of (x, y)."""
    if x.ndim == y.ndim == 2 and x.shape[0] == 1 and y.shape[1] == 1:
        return _value_noise_on_grid(x[0], y[:, 0], salt)
    x0, y0 = np.floor(x), np.floor(y)
    u, v = fade(x - x0), fade(y - y0)
    ix, iy = x0.astype(np.int64), y0.astype(np.int64)
    a, b = lattice_value(ix, iy, salt), lattice_value(ix + 1, iy, salt)
    c, d = lattice_value(ix, iy + 1, salt), lattice_value(ix + 1, iy + 1, salt)
    return (a + (b - a) * u) * (1 - v) + (c + (d - c) * u) * v


def _value_noise_on_grid(xs: np.ndarray, ys: np.ndarray, salt: int) -> np.ndarray:
    """:func:`value_noise` on the grid of a row ``xs`` and a column ``ys``, bit for bit.

    Hashes each lattice point once instead of four times per pixel, and interpolates with the
    same operations in the same order (along x, then y).
    """
    x0, y0 = np.floor(xs), np.floor(ys)
    u, v = fade(xs - x0), fade(ys - y0)[:, None]
    ix, iy = x0.astype(np.int64), y0.astype(np.int64)
    columns, rows = ix - ix.min(), iy - iy.min()
    lattice = lattice_value(
        np.arange(ix.min(), ix.max() + 2)[None, :], np.arange(iy.min(), iy.max() + 2)[:, None], salt
    )
    left, right = lattice[:, columns], lattice[:, columns + 1]
    along_x = left + (right - left) * u
    return along_x[rows] * (1 - v) + along_x[rows + 1] * v


def lattice_value(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """A reproducible pseudo-random value in [-1, 1] per lattice point (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
            iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        )
        h ^= _SEED + np.uint64(salt)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) * (2.0 / 2**53) - 1.0


def fade(t: np.ndarray) -> np.ndarray:
    """Quintic ease curve: interpolated noise is smooth (no creases) at lattice lines."""
    return t * t * t * (t * (t * 6 - 15) + 10)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)
