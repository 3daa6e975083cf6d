"""The truth a cell's scenes are made from: the ground's flat-terrain gamma0 on the ARD
lattice, its terrain, and the terrain effect each pass's look direction adds.

The flat-terrain gamma0 comes from the ground cover (the demo's forest, savanna, bare ground
and lakes, shared with the Sentinel-2 part) and a smooth texture. The terrain effect is the
inverse of the loader's terrain flattening, computed here from the geometry itself (never with
the loader's code), so that flattening the demo's scenes tests the loader.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rasterio.transform import Affine
from scipy import ndimage
from scipy.interpolate import RegularGridInterpolator

from demo_archive.geoid import undulation
from demo_archive.s1.annotation import geolocation_grid
from demo_archive.s1.radar import (
    HEADING_DEG,
    PIXEL_SPACING_M,
    Cell,
    RadarGrid,
    cell_of,
    radar_grid,
)
from demo_archive.terrain import PointGrid, fbm, surface
from demo_archive.weather import BARE, FOREST, LAKE, SAVANNA, ground, wetness
from loaders.dem import metres_per_degree, slope_degrees

#: The truth lattice: 1/3 arc-second (~10 m), aligned on whole multiples of it.
LATTICE_DEG = 1 / 10800

#: Flat-terrain gamma0 of each ground cover, dB, (VV, VH): C-band values for tropical forest,
#: savanna, bare or cropped ground and open water.
COVER_GAMMA0_DB = {
    FOREST: (-7.0, -12.5),
    SAVANNA: (-10.0, -16.5),
    BARE: (-12.0, -19.0),
    LAKE: (-21.0, -27.0),
}
#: Fixed-point steps placing each image pixel's ground (:func:`imaged_ground`): on a slope a
#: third as steep toward the sensor as the incidence, each divides the error by three.
RELIEF_ITERATIONS = 12
#: Spread of the land's gamma0 around its cover's value (std of a smooth field, dB).
TEXTURE_DB = 0.5
#: Gamma0 change from the driest to the wettest season (soil and canopy moisture), dB.
SEASON_DB = 1.5


@dataclass(frozen=True)
class CellFields:
    """Ground fields of a cell on the truth lattice (rows north to south)."""

    transform: Affine
    """Maps (column, row) to (lon, lat) of pixel corners."""
    gamma0: np.ndarray
    """(2, H, W) float32 flat-terrain gamma0, VV and VH, linear."""
    cover: np.ndarray
    """(H, W) uint8 ground cover (the weather module's classes)."""
    elevation: np.ndarray
    """(H, W) float32 terrain height, metres."""
    slope: np.ndarray
    """(H, W) float32 terrain slope, degrees."""
    aspect: np.ndarray
    """(H, W) float32 terrain aspect, degrees clockwise from north (downhill)."""


@lru_cache(maxsize=2)
def cell_fields(cell: Cell) -> CellFields:
    """The cell's ground on a lattice that holds both passes' images (pure, cached)."""
    corners = [
        radar_grid(cell, p).lonlat(
            np.array([-1, -1, g.lines, g.lines]), np.array([-1, g.samples, g.samples, -1])
        )
        for p in HEADING_DEG
        for g in [radar_grid(cell, p)]
    ]
    lons = np.concatenate([c[0] for c in corners])
    lats = np.concatenate([c[1] for c in corners])
    # Whole lattice steps, one to spare on each side, plus the slope's border.
    col0 = math.floor(lons.min() / LATTICE_DEG) - 1
    col1 = math.ceil(lons.max() / LATTICE_DEG) + 1
    row0 = math.floor(lats.min() / LATTICE_DEG) - 1
    row1 = math.ceil(lats.max() / LATTICE_DEG) + 1
    lon = (np.arange(col0 - 1, col1 + 1) + 0.5) * LATTICE_DEG
    lat = (np.arange(row1, row0 - 2, -1) - 0.5) * LATTICE_DEG
    z = surface(lon[None, :], lat[:, None]).elevation.astype(np.float64)
    m_lon, m_lat = metres_per_degree(float(lat.mean()))
    slope = slope_degrees(z, LATTICE_DEG * m_lon, LATTICE_DEG * m_lat)
    aspect = aspect_degrees(z, LATTICE_DEG * m_lon, LATTICE_DEG * m_lat)
    lon, lat = lon[1:-1], lat[1:-1]
    land = ground(lon, lat)
    table = np.zeros((2, max(COVER_GAMMA0_DB) + 1), dtype=np.float32)
    for cover, decibels in COVER_GAMMA0_DB.items():
        table[:, cover] = decibels
    texture = np.float32(2 * TEXTURE_DB) * fbm(PointGrid(lon, lat), 1 / 256, 2, salt=300)
    texture[land.cover == LAKE] = 0  # open water is uniformly dark
    decibels = table[:, land.cover] + texture
    gamma0 = np.power(np.float32(10), decibels / np.float32(10)).astype(np.float32)
    transform = Affine(LATTICE_DEG, 0, col0 * LATTICE_DEG, 0, -LATTICE_DEG, row1 * LATTICE_DEG)
    elevation = z[1:-1, 1:-1].astype(np.float32)
    return CellFields(transform, gamma0, land.cover, elevation, slope, aspect)


def aspect_degrees(elevation: np.ndarray, dx_m: float, dy_m: float) -> np.ndarray:
    """Aspect (degrees clockwise from north, downhill) by central differences, rows north to
    south, the border cropped like the slope's: (H, W) float32 from (H + 2, W + 2)."""
    dz_east = (elevation[1:-1, 2:] - elevation[1:-1, :-2]) / (2 * dx_m)
    dz_south = (elevation[2:, 1:-1] - elevation[:-2, 1:-1]) / (2 * dy_m)
    # Downhill is minus the gradient: (-dz_east) eastward and (+dz_south) northward.
    return (np.degrees(np.arctan2(-dz_east, dz_south)) % 360.0).astype(np.float32)


def look_azimuth(grid: RadarGrid) -> float:
    """Azimuth the radar looks toward on the ground: Sentinel-1 looks right of its track."""
    return (grid.heading_deg + 90.0) % 360.0


def local_incidence_angle(
    incidence_deg: np.ndarray, slope_deg: np.ndarray, aspect_deg: np.ndarray, look_deg: float
) -> np.ndarray:
    """Incidence on the terrain in the range plane, degrees: theta - alpha_r, where the slope
    in the look direction is tan(alpha_r) = -tan(slope) cos(aspect - look) (positive where
    the ground faces the sensor)."""
    facing = -np.cos(np.radians(np.asarray(aspect_deg) - look_deg))
    range_slope = np.degrees(np.arctan(np.tan(np.radians(slope_deg)) * facing))
    return incidence_deg - range_slope


def terrain_factor(
    incidence_deg: np.ndarray, slope_deg: np.ndarray, aspect_deg: np.ndarray, look_deg: float
) -> np.ndarray:
    """Ellipsoid gamma0 / flat-terrain gamma0: tan(theta) / tan(theta - alpha_r), the inverse
    of the loader's flattening, so that flattening returns the ground's own gamma0. Layover
    and shadow, which the flattening masks, are kept finite: very bright and very dark, as
    they look."""
    local = local_incidence_angle(incidence_deg, slope_deg, aspect_deg, look_deg)
    local = np.radians(np.clip(local, 2.0, 88.0))
    return (np.tan(np.radians(incidence_deg)) / np.tan(local)).astype(np.float32)


def sample_on_radar(
    grid: RadarGrid, fields: CellFields, values: np.ndarray, order: int = 1
) -> np.ndarray:
    """``values`` (..., H, W) on the lattice, sampled at the ground every image pixel shows
    (:func:`imaged_ground`; bilinear, or nearest with ``order=0``); returns
    (..., lines, samples) float32."""
    at = lattice_position(fields, *imaged_ground(grid))
    flat = values.reshape(-1, *values.shape[-2:])
    out = [ndimage.map_coordinates(v, at, order=order, mode="nearest") for v in flat]
    return np.stack(out).reshape(*values.shape[:-2], grid.lines, grid.samples)


def lattice_position(fields: CellFields, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(row, column) of points on the fields' lattice, for ``ndimage.map_coordinates``."""
    t = fields.transform
    # Lattice values sit at pixel centres, half a step inside the corners.
    return np.stack([(lat - t.f) / t.e - 0.5, (lon - t.c) / t.a - 0.5])


@lru_cache(maxsize=4)
def imaged_ground(grid: RadarGrid) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat), each (lines, samples), of the ground each pixel of the image shows: pixel p
    shows the ground whose grid position q solves p = q - :func:`relief_shift` at q, solved by
    fixed-point iteration (it converges where the ground faces the sensor less steeply than
    the incidence; in layover it settles on one of the points imaged there). Pure and cached:
    every scene of the cell and pass shares it."""
    fields = cell_fields(cell_of(grid.centre_lon, grid.centre_lat))
    line = np.arange(grid.lines, dtype=np.float64)[:, None]
    shown = np.arange(grid.samples, dtype=np.float64)[None, :]
    pixel = np.broadcast_to(shown, (grid.lines, grid.samples))
    for _ in range(RELIEF_ITERATIONS):
        lon, lat = grid.lonlat(line, pixel)
        terrain = ndimage.map_coordinates(
            fields.elevation, lattice_position(fields, lon, lat), order=1, mode="nearest"
        )
        pixel = shown + relief_shift(grid, line, pixel, terrain + undulation(lon, lat))
    return grid.lonlat(line, pixel)


def imaged_position(
    grid: RadarGrid, lon: np.ndarray, lat: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(line, pixel) where the image shows the ground at ``lon``, ``lat`` and ``height`` (above
    the ellipsoid: the terrain's plus :func:`demo_archive.geoid.undulation`): the truth of
    where a loader must look for it."""
    line, pixel = grid.image_coordinates(lon, lat)
    return line, pixel - relief_shift(grid, line, pixel, height)


def relief_shift(
    grid: RadarGrid, line: np.ndarray, pixel: np.ndarray, height: np.ndarray
) -> np.ndarray:
    """Pixels nearer the sensor that ground of ``height`` (above the ellipsoid) at the grid
    position (``line``, ``pixel``) is imaged. A GRD image is projected onto the ground at the
    geolocation grid's heights (interpolated between its points): ground dh above them has a
    slant range shorter by dh cos(theta), which that projection shows dh / tan(theta) nearer."""
    reference = reference_heights(grid)(np.stack(np.broadcast_arrays(line, pixel), axis=-1))
    return (height - reference) / (np.tan(np.radians(grid.incidence(pixel))) * PIXEL_SPACING_M)


@lru_cache(maxsize=4)
def reference_heights(grid: RadarGrid) -> RegularGridInterpolator:
    """The geolocation grid's heights over the image, bilinear in (line, pixel) between its
    points and extended linearly beyond them."""
    gcp = dict(geolocation_grid(cell_of(grid.centre_lon, grid.centre_lat), grid.pass_direction))
    knots = (np.unique(gcp["line"]), np.unique(gcp["pixel"]))
    heights = gcp["height"].reshape(len(knots[0]), len(knots[1]))
    return RegularGridInterpolator(knots, heights, bounds_error=False, fill_value=None)


@lru_cache(maxsize=2)
def ellipsoid_gamma0(cell: Cell, pass_direction: str) -> np.ndarray:
    """(2, lines, samples) float32 gamma0 on the pass's image grid before season and speckle:
    the flat-terrain truth times the terrain effect of the pass's look direction."""
    grid = radar_grid(cell, pass_direction)
    fields = cell_fields(cell)
    # Incidence of each lattice point from where it falls across the image.
    h, w = fields.cover.shape
    t = fields.transform
    lon = t.c + (np.arange(w)[None, :] + 0.5) * t.a
    lat = t.f + (np.arange(h)[:, None] + 0.5) * t.e
    _, pixel = grid.image_coordinates(lon, lat)
    factor = terrain_factor(grid.incidence(pixel), fields.slope, fields.aspect, look_azimuth(grid))
    return sample_on_radar(grid, fields, fields.gamma0 * factor)


def seasonal_factor(day: dt.date, lat: float) -> float:
    """Gamma0 multiplier of the season: wetter soil and canopy backscatter more. It follows
    the demo weather's wetness, from -0.6 dB in the dry season to +0.7 dB in the wettest."""
    return 10 ** (SEASON_DB * (wetness(day, lat) - 0.5) / 10)
