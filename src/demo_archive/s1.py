"""Demo archive, Sentinel-1 part: Earth Search v1 ``sentinel-1-grd``-shaped IW GRDH scenes.

Real GRD slices are 250 x 170 km; the demo needs only the requested tiles, so a demo scene is a
small radar-geometry image over one cell of the 1/18 degree tile lattice (plus a margin), one
per acquisition. Which scenes exist depends only on the cell and the year, never on the
request, so archives grown by later requests keep their files.

Each scene is made from a known truth: the flat-terrain gamma0 of the ground cover (the demo's
forest, savanna, bare ground and lakes, shared with the Sentinel-2 part), times the terrain
effect the loader's flattening undoes, a seasonal factor and speckle; the DN are that gamma0
put through calibration and noise LUTs written in the real annotation schema. The flat-terrain
truth is kept outside ``stac/`` (see :func:`truth_path`) for loader tests to compare with.

Layout, as on AWS (``sentinel-s1-l1c``) with Earth Search's short file names::

    sentinel-s1-l1c/GRD/{y}/{m}/{d}/IW/DV/{product id}/measurement/iw-vv.tiff  (and vh)
        .../annotation/iw-vv.xml                       product annotation (geolocation grid)
        .../annotation/calibration/calibration-iw-vv.xml, noise-iw-vv.xml
        .../annotation/rfi/rfi-iw-vv.xml               IPF 3.40 and later only
        .../manifest.safe, preview/quick-look.png
    stac/sentinel-1-grd/{item id}.json
    demo-truth/sentinel-1-grd/{cell}.tif, {cell}_{year}.json

Geometry: a scene's lines run along the ground track (heading about -12.6 degrees ascending,
-167.4 descending) and its pixels across it, away from the track (Sentinel-1 looks right), both
10 m apart on a plane tangent at the cell centre; line 0 is the first imaged, pixel 0 the
nearest. Relief displacement (foreshortening) is not simulated: GRD products are projected on
the ellipsoid, and the demo's pixels sit where their GCPs say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from scipy import ndimage

from demo_archive.terrain import PointGrid, fbm, surface
from demo_archive.weather import BARE, FOREST, LAKE, SAVANNA, ground, wetness
from loaders import s1
from loaders.ard_io import replace_atomically
from loaders.dem import OUTPUT_RES_DEG, metres_per_degree, slope_degrees
from loaders.tiles import TILE_HALF_WIDTH_DEG

#: Version of the generator, recorded in each item: bump it when scenes or layout change.
GENERATOR_VERSION = "1"

#: Side of a lattice cell (the tile grid), and the margin a scene covers around its cell.
CELL_DEG = 1 / 18
MARGIN_DEG = 1 / 360
#: The truth lattice is the ARD output grid's (~10 m), aligned on whole multiples of it.
LATTICE_DEG = OUTPUT_RES_DEG
#: GRDH pixel spacing, metres, and the azimuth time between lines (the real annotation's).
PIXEL_SPACING_M = 10.0
LINE_TIME_S = 1.499191837510891e-03

#: Sentinel-1's repeat cycle: 175 orbits in 12 days; one orbit lasts 12 days / 175.
ORBITS_PER_CYCLE = 175
REPEAT_DAYS = 12
ORBIT_PERIOD_S = REPEAT_DAYS * 86400 / ORBITS_PER_CYCLE
#: Ground tracks of successive orbits lie this many degrees of longitude apart (westward).
TRACK_SHIFT_DEG = 360 * ORBIT_PERIOD_S / 86400

#: Platform heading near the equator, degrees clockwise from north.
HEADING_DEG = {"ascending": -12.6, "descending": -167.4}

#: IW swath: samples across the full 250 km and the first sample of the sub-swaths IW1-IW3.
SWATH_SAMPLES = 25_000
SUBSWATH_FIRST = (0, 8_380, 16_800)
#: Incidence angle across the swath: 30.5 at near range, 39 mid-swath, 46 at far range.
INCIDENCE_NEAR, INCIDENCE_LINEAR, INCIDENCE_QUADRATIC = 30.5, 18.5, -3.0
EARTH_RADIUS_M, ORBIT_HEIGHT_M = 6_371_000.0, 693_000.0

#: Two real products anchor each pass's orbits: absolute orbit, time and place of the scene
#: centre (the Earth Search item and the stactools item of SOURCES.md). Other orbits follow
#: from the repeat cycle, so orbit numbers, dates and local times (about 06:00 descending,
#: 18:00 ascending) come out as real ones would.
_ANCHORS = {
    "descending": (53909, dt.datetime(2024, 5, 17, 9, 32, 24, 676101), -58.03415, -5.57042),
    "ascending": (39156, dt.datetime(2021, 8, 9, 17, 40, 5, 653288), 3.36974, 45.48933),
}
#: Absolute orbit numbers of each platform: relative orbit = (absolute - offset) % 175 + 1;
#: an S1B anchor (a real product), and each platform's years of operation.
_ORBIT_OFFSET = {"S1A": 73, "S1B": 27}
_S1B_ANCHOR = (26269, dt.datetime(2021, 4, 1, 5, 26, 35))
_OPERATION = {
    "S1A": (dt.datetime(2014, 10, 3), dt.datetime(9999, 1, 1)),
    "S1B": (dt.datetime(2016, 9, 26), dt.datetime(2021, 12, 23)),
}
_DESIGNATOR = {"S1A": "2014-016A", "S1B": "2016-025A"}
#: Datatake ids grow by about 8.58 per orbit (two real products' ids); S1B's its own count.
_DATATAKE = {"S1A": (39156, 302867), "S1B": (26269, 205463)}
_DATATAKES_PER_ORBIT = 8.578

#: IPF versions by date (approximate): 2.90 added the azimuth noise vectors (before it the
#: noise annotation is the older ``noiseVectorList``), 3.40 the ``annotation/rfi`` folder.
IPF_VERSIONS = (
    (dt.date(2014, 10, 1), "002.36"),
    (dt.date(2018, 3, 13), "002.90"),
    (dt.date(2020, 4, 28), "003.20"),
    (dt.date(2021, 11, 4), "003.40"),
    (dt.date(2023, 3, 28), "003.61"),
)
_AZIMUTH_NOISE_IPF, _RFI_IPF = "002.90", "003.40"

#: Flat-terrain gamma0 of each ground cover, dB, (VV, VH): C-band values for tropical forest,
#: savanna, bare or cropped ground and open water.
COVER_GAMMA0_DB = {
    FOREST: (-7.0, -12.5),
    SAVANNA: (-10.0, -16.5),
    BARE: (-12.0, -19.0),
    LAKE: (-21.0, -27.0),
}
#: Spread of the land's gamma0 around its cover's value (std of a smooth field, dB).
TEXTURE_DB = 0.5
#: Gamma0 change from the driest to the wettest season (soil and canopy moisture), dB.
SEASON_DB = 1.5
#: Equivalent number of looks of IW GRDH (the items' ``sar:looks_equivalent_number``).
LOOKS = 4.4
#: betaNought LUT value of the real annotation (constant across the swath), and thermal
#: noise of each sub-swath at its centre (DN^2; higher towards the sub-swath edges).
BETA_NOUGHT = 474.0
NOISE_CENTRE = (1350.0, 740.0, 380.0)
NOISE_EDGE_GAIN = 0.8
#: Spacing of the LUT vectors (lines) and of their knots (pixels), as in the real files.
LUT_LINE_STEP, LUT_PIXEL_STEP, AZIMUTH_NOISE_STEP = 100, 40, 10
#: Geolocation grid of the product annotation: lines x pixels (the real one is 10 x 21).
GEOLOCATION_SHAPE = (10, 21)

POLARISATIONS = ("vv", "vh")
PRODUCT_FOLDER = "sentinel-s1-l1c/GRD"
ITEM_FOLDER = "stac/sentinel-1-grd"
TRUTH_FOLDER = "demo-truth/sentinel-1-grd"
#: Properties of the real items left out, as in the DEM part (not in cloud storage, no Earth
#: Search workflow, no per-run times).
OMITTED_PROPERTIES = frozenset({"storage:platform", "storage:region", "created", "updated"})

#: GDAL COG options: 512-pixel tiles and DEFLATE like the real GRD COGs; one thread, since
#: the archive writes one cell per process. GDAL writes no timestamp, so equal pixels give
#: equal bytes.
COG_OPTIONS = {
    "compress": "DEFLATE",
    "blocksize": 512,
    "overviews": "AUTO",
    "overview_resampling": "AVERAGE",
    "num_threads": 1,
}
_TRUTH_OPTIONS = COG_OPTIONS | {"predictor": "FLOATING_POINT", "overviews": "NONE"}


# --- Scene plan ---------------------------------------------------------------------------


Cell = tuple[int, int]
"""(column, row) of a 1/18 degree lattice cell: its south-west corner is (column, row) / 18."""


@dataclass(frozen=True)
class Scene:
    """One acquisition over one cell."""

    platform: str
    """``"S1A"`` or ``"S1B"``."""
    pass_direction: str
    cell: Cell
    relative_orbit: int
    absolute_orbit: int
    centre_time: dt.datetime
    """UTC time at which the cell centre is imaged (naive datetime)."""
    partial: bool = False
    """The single scene of its cell's partial quarter: the datatake ends over the cell."""


def cell_of(lon: float, lat: float) -> Cell:
    """The lattice cell holding a point (a tile centre lies inside its own cell)."""
    return math.floor(lon / CELL_DEG), math.floor(lat / CELL_DEG)


def cell_name(cell: Cell) -> str:
    return f"c{cell[0]:+05d}{cell[1]:+05d}"


def s1_scenes(year: int, lon: float, lat: float) -> list[Scene]:
    """The acquisitions of ``year`` over the cell holding (lon, lat), by time.

    Per pass one relative orbit sees the cell (the one whose track runs nearest), every 12
    days per platform, S1B 6 days after S1A until its failure in December 2021. In one quarter
    window (:func:`partial_quarter`) a single acquisition is left and it covers the cell only
    in part; the others are dropped, as when a datatake is cancelled.
    """
    cell = cell_of(lon, lat)
    scenes = [
        scene
        for pass_direction in HEADING_DEG
        for platform in _ORBIT_OFFSET
        for scene in _platform_scenes(year, cell, pass_direction, platform)
    ]
    scenes.sort(key=lambda scene: scene.centre_time)
    quarter, pass_direction = partial_quarter(year, cell)
    in_quarter = [s for s in scenes if s1.quarter_of(s.centre_time, year) == quarter]
    # None before Sentinel-1 flew: then there is nothing to drop either.
    kept = next((s for s in in_quarter if s.pass_direction == pass_direction), None)
    dropped = [s for s in in_quarter if s is not kept]
    return [replace(s, partial=True) if s is kept else s for s in scenes if s not in dropped]


def partial_quarter(year: int, cell: Cell) -> tuple[int, str]:
    """The quarter (0-3) in which the cell has a single, partial scene, and that scene's pass.
    Chosen per 1-degree square and year, so neighbouring tiles share it."""
    square = (math.floor(cell[0] * CELL_DEG), math.floor(cell[1] * CELL_DEG))
    u = uniform("partial quarter", year, *square)
    return int(u * 4), ("ascending", "descending")[int(u * 8) % 2]


def scenes_in_windows(scenes: Sequence[Scene], year: int) -> list[Scene]:
    """The scenes inside the quarter windows: the only ones a quarterly composite reads."""
    return [s for s in scenes if s1.quarter_of(s.centre_time, year) is not None]


def _platform_scenes(year: int, cell: Cell, pass_direction: str, platform: str) -> list[Scene]:
    grid = radar_grid(cell, pass_direction)
    absolute, first = _first_pass(grid, platform)
    begin, end = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
    on, off = _OPERATION[platform]
    cycle = dt.timedelta(days=REPEAT_DAYS)
    k = math.ceil((max(begin, on) - first) / cycle)
    scenes = []
    while (time := first + k * cycle) < min(end, off):
        absolute_k = absolute + k * ORBITS_PER_CYCLE
        relative = (absolute_k - _ORBIT_OFFSET[platform]) % ORBITS_PER_CYCLE + 1
        scenes.append(Scene(platform, pass_direction, cell, relative, absolute_k, time))
        k += 1
    return scenes


def _first_pass(grid: RadarGrid, platform: str) -> tuple[int, dt.datetime]:
    """An absolute orbit of ``platform`` over the cell on the grid's relative orbit, and the
    time the cell centre is imaged on it."""
    anchor_orbit, anchor_time, _, anchor_lat = _ANCHORS[grid.pass_direction]
    absolute = anchor_orbit + grid.orbit_index
    # Time from the ascending node to the latitude, on the way up or down.
    up = grid.pass_direction == "ascending"
    phase = (grid.centre_lat if up else 180 - grid.centre_lat) - (
        anchor_lat if up else 180 - anchor_lat
    )
    time = anchor_time + dt.timedelta(
        seconds=grid.orbit_index * ORBIT_PERIOD_S + phase / 360 * ORBIT_PERIOD_S
    )
    if platform == "S1A":
        return absolute, time
    # S1B flies the same tracks half a cycle later, with its own orbit count.
    time += dt.timedelta(days=REPEAT_DAYS / 2)
    b_orbit, b_time = _S1B_ANCHOR
    estimate = b_orbit + round((time - b_time).total_seconds() / ORBIT_PERIOD_S)
    relative = (absolute - _ORBIT_OFFSET["S1A"]) % ORBITS_PER_CYCLE
    shift = (relative + _ORBIT_OFFSET["S1B"] - estimate) % ORBITS_PER_CYCLE
    return estimate + shift - (ORBITS_PER_CYCLE if shift > ORBITS_PER_CYCLE // 2 else 0), time


# --- Radar geometry -----------------------------------------------------------------------


@dataclass(frozen=True)
class RadarGrid:
    """The image grid of a cell's scenes on one pass (the same on every date: Sentinel-1
    keeps to a narrow orbital tube).

    Pixel (line, pixel) lies ``(first_line + line) * 10`` m along the track and
    ``(first_pixel + pixel) * 10`` m across it (away from the track) from the cell centre.
    """

    pass_direction: str
    heading_deg: float
    centre_lon: float
    centre_lat: float
    first_line: int
    first_pixel: int
    lines: int
    samples: int
    swath_sample: int
    """Sample of the full 250 km swath that image pixel 0 is."""
    orbit_index: int
    """Orbits after the pass's anchor orbit (0-174) of the relative orbit seeing the cell."""

    def lonlat(self, line: np.ndarray, pixel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude of image coordinates (affine on the tangent plane)."""
        along = (self.first_line + np.asarray(line, dtype=np.float64)) * PIXEL_SPACING_M
        across = (self.first_pixel + np.asarray(pixel, dtype=np.float64)) * PIXEL_SPACING_M
        (a_east, a_north), (r_east, r_north) = _axes(self.heading_deg)
        m_lon, m_lat = metres_per_degree(self.centre_lat)
        east = along * a_east + across * r_east
        north = along * a_north + across * r_north
        return self.centre_lon + east / m_lon, self.centre_lat + north / m_lat

    def image_coordinates(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(line, pixel) of points: the inverse of :meth:`lonlat`."""
        (a_east, a_north), (r_east, r_north) = _axes(self.heading_deg)
        m_lon, m_lat = metres_per_degree(self.centre_lat)
        east = (np.asarray(lon) - self.centre_lon) * m_lon
        north = (np.asarray(lat) - self.centre_lat) * m_lat
        along, across = east * a_east + north * a_north, east * r_east + north * r_north
        return along / PIXEL_SPACING_M - self.first_line, across / PIXEL_SPACING_M - (
            self.first_pixel
        )

    def incidence(self, pixel: np.ndarray) -> np.ndarray:
        """Ellipsoid incidence angle (degrees) at image pixels: it grows across the swath."""
        x = np.clip((self.swath_sample + np.asarray(pixel)) / (SWATH_SAMPLES - 1), 0, 1)
        return INCIDENCE_NEAR + x * (INCIDENCE_LINEAR + x * INCIDENCE_QUADRATIC)


def _axes(heading_deg: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(east, north) unit vectors along the track and across it to the right (the look)."""
    h = math.radians(heading_deg)
    return (math.sin(h), math.cos(h)), (math.cos(h), -math.sin(h))


def cell_bounds(cell: Cell, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the cell grown by ``margin`` degrees."""
    west, south = cell[0] * CELL_DEG, cell[1] * CELL_DEG
    return west - margin, south - margin, west + CELL_DEG + margin, south + CELL_DEG + margin


@lru_cache(maxsize=64)
def radar_grid(cell: Cell, pass_direction: str) -> RadarGrid:
    """The radar image grid over the cell and its margin for the pass (pure, cached)."""
    heading = HEADING_DEG[pass_direction]
    west, south, east, north = cell_bounds(cell)
    lon, lat = (west + east) / 2, (south + north) / 2
    # Image extent: the cell and its margin seen in track coordinates.
    probe = RadarGrid(pass_direction, heading, lon, lat, 0, 0, 1, 1, 0, 0)
    w, s, e, n = cell_bounds(cell, MARGIN_DEG)
    line, pixel = probe.image_coordinates(np.array([w, e, e, w]), np.array([s, s, n, n]))
    first_line, first_pixel = math.floor(line.min()), math.floor(pixel.min())
    lines = math.ceil(line.max()) - first_line + 1
    samples = math.ceil(pixel.max()) - first_pixel + 1
    # The relative orbit whose track passes nearest: tracks keep c = lon - lat * tan(heading).
    anchor_lon, anchor_lat = _ANCHORS[pass_direction][2:]
    slope = math.tan(math.radians(heading))
    c = lon - lat * slope
    offsets = [
        (c - (anchor_lon - anchor_lat * slope - m * TRACK_SHIFT_DEG) + 180) % 360 - 180
        for m in range(ORBITS_PER_CYCLE)
    ]
    m = min(range(ORBITS_PER_CYCLE), key=lambda k: abs(offsets[k]))
    # Distance from the track, positive away from it (ascending looks east, descending west).
    across_m = offsets[m] * metres_per_degree(lat)[0] * math.cos(math.radians(heading))
    swath_sample = round(SWATH_SAMPLES / 2 + across_m / PIXEL_SPACING_M) + first_pixel
    return RadarGrid(
        pass_direction=pass_direction,
        heading_deg=heading,
        centre_lon=lon,
        centre_lat=lat,
        first_line=first_line,
        first_pixel=first_pixel,
        lines=lines,
        samples=samples,
        swath_sample=swath_sample,
        orbit_index=m,
    )


# --- Truth --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellFields:
    """Ground fields of a cell on the truth lattice (rows north to south)."""

    transform: Affine
    """Maps (column, row) to (lon, lat) of pixel corners."""
    gamma0: np.ndarray
    """(2, H, W) float32 flat-terrain gamma0, VV and VH, linear."""
    cover: np.ndarray
    """(H, W) uint8 ground cover (the weather module's classes)."""
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
    aspect = s1.aspect_degrees(z, LATTICE_DEG * m_lon, LATTICE_DEG * m_lat)
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
    return CellFields(transform, gamma0, land.cover, slope, aspect)


def terrain_factor(
    incidence_deg: np.ndarray, slope_deg: np.ndarray, aspect_deg: np.ndarray, look_deg: float
) -> np.ndarray:
    """Ellipsoid gamma0 / flat-terrain gamma0: the inverse of :func:`loaders.s1.flatten_gamma0`
    (tan(theta) / tan(theta - alpha_r)), so that flattening returns the ground's own gamma0.
    Layover and shadow, which the flattening masks, are kept finite: very bright and very
    dark, as they look."""
    local = s1.local_incidence_angle(incidence_deg, slope_deg, aspect_deg, look_deg)
    local = np.radians(np.clip(local, 2.0, 88.0))
    return (np.tan(np.radians(incidence_deg)) / np.tan(local)).astype(np.float32)


def sample_on_radar(
    grid: RadarGrid, fields: CellFields, values: np.ndarray, order: int = 1
) -> np.ndarray:
    """``values`` (..., H, W) on the lattice, sampled at every image pixel (bilinear, or
    nearest with ``order=0``); returns (..., lines, samples) float32."""
    lon, lat = grid.lonlat(np.arange(grid.lines)[:, None], np.arange(grid.samples)[None, :])
    t = fields.transform
    # Lattice values sit at pixel centres, half a step inside the corners.
    at = np.stack([(lat - t.f) / t.e - 0.5, (lon - t.c) / t.a - 0.5])
    flat = values.reshape(-1, *values.shape[-2:])
    out = [ndimage.map_coordinates(v, at, order=order, mode="nearest") for v in flat]
    return np.stack(out).reshape(*values.shape[:-2], grid.lines, grid.samples)


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
    look = s1.look_azimuth(pass_direction, grid.heading_deg)
    factor = terrain_factor(grid.incidence(pixel), fields.slope, fields.aspect, look)
    return sample_on_radar(grid, fields, fields.gamma0 * factor)


def seasonal_factor(day: dt.date, lat: float) -> float:
    """Gamma0 multiplier of the season: wetter soil and canopy backscatter more. It follows
    the demo weather's wetness, from -0.6 dB in the dry season to +0.7 dB in the wettest."""
    return 10 ** (SEASON_DB * (wetness(day, lat) - 0.5) / 10)


# --- Annotations --------------------------------------------------------------------------


def ipf_version(day: dt.date) -> str:
    return next(v for since, v in reversed(IPF_VERSIONS) if day >= since)


def _full_grid(grid: RadarGrid) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(grid.lines, dtype=np.float64), np.arange(grid.samples, dtype=np.float64)


def _knots(count: int, step: int, extra: Sequence[int] = ()) -> np.ndarray:
    """0, step, 2 step, ... and the last index (and any ``extra`` inside), increasing."""
    inside = [k for k in extra if 0 < k < count - 1]
    return np.unique(np.array([*range(0, count, step), count - 1, *inside], dtype=np.int64))


def _subswath_edges(grid: RadarGrid) -> list[int]:
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


def _time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _floats(values: np.ndarray, fmt: str = "{:.6e}") -> str:
    return " ".join(fmt.format(v) for v in values)


def _add(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = str(text)
    return element


def _add_list(parent: ET.Element, tag: str, values: np.ndarray, fmt: str) -> None:
    _add(parent, tag, _floats(values, fmt), count=str(len(values)))


def _ads_header(root: ET.Element, scene: Scene, pol: str) -> None:
    start, stop = scene_times(scene)
    header = _add(root, "adsHeader")
    for tag, text in (
        ("missionId", scene.platform),
        ("productType", "GRD"),
        ("polarisation", pol.upper()),
        ("mode", "IW"),
        ("swath", "IW"),
        ("startTime", _time(start)),
        ("stopTime", _time(stop)),
        ("absoluteOrbitNumber", scene.absolute_orbit),
        ("missionDataTakeId", datatake_id(scene)),
        ("imageNumber", "001" if pol == "vh" else "002"),
    ):
        _add(header, tag, text)


def _line_time(scene: Scene, line: float) -> dt.datetime:
    return scene_times(scene)[0] + dt.timedelta(seconds=float(line) * LINE_TIME_S)


def _document(root: ET.Element) -> bytes:
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def calibration_xml(scene: Scene, pol: str) -> bytes:
    """The calibration annotation: sigmaNought, betaNought, gamma and dn LUTs every
    :data:`LUT_LINE_STEP` lines (the last vector past the image, as in real files) at knots
    every :data:`LUT_PIXEL_STEP` pixels. betaNought is constant, and sigma0 = beta0 sin(theta),
    gamma0 = sigma0 / cos(theta) give the other LUTs (LUT^2 divides the power)."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    pixels = _knots(grid.samples, LUT_PIXEL_STEP)
    theta = np.radians(grid.incidence(pixels))
    beta = np.full(len(pixels), BETA_NOUGHT)
    luts = {
        "sigmaNought": beta / np.sqrt(np.sin(theta)),
        "betaNought": beta,
        "gamma": beta / np.sqrt(np.tan(theta)),
        "dn": beta,
    }
    lines = np.arange(0, grid.lines - 1 + LUT_LINE_STEP, LUT_LINE_STEP)
    root = ET.Element("calibration")
    _ads_header(root, scene, pol)
    _add(_add(root, "calibrationInformation"), "absoluteCalibrationConstant", "1.000000e+00")
    vectors = _add(root, "calibrationVectorList", count=str(len(lines)))
    for line in lines:
        vector = _add(vectors, "calibrationVector")
        _add(vector, "azimuthTime", _time(_line_time(scene, line)))
        _add(vector, "line", line)
        _add_list(vector, "pixel", pixels, "{:.0f}")
        for tag, values in luts.items():
            _add_list(vector, tag, values, "{:.6e}")
    return _document(root)


def noise_xml(scene: Scene, pol: str) -> bytes:
    """The thermal noise annotation. From IPF 2.90: range vectors (their own knots, with the
    sub-swath edges) and one azimuth vector per sub-swath in the image; before it, the older
    ``noiseVectorList`` of range vectors alone."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    new_layout = ipf_version(scene.centre_time.date()) >= _AZIMUTH_NOISE_IPF
    lines = _knots(grid.lines, LUT_LINE_STEP)
    pixels = _knots(grid.samples, LUT_PIXEL_STEP, _subswath_edges(grid))
    power = range_noise_power(grid.swath_sample + pixels)
    if pol == "vh":
        power = power * 0.93  # the channels' receivers differ a little
    root = ET.Element("noise")
    _ads_header(root, scene, pol)
    list_tag, vector_tag, lut_tag = (
        ("noiseRangeVectorList", "noiseRangeVector", "noiseRangeLut")
        if new_layout
        else ("noiseVectorList", "noiseVector", "noiseLut")
    )
    vectors = _add(root, list_tag, count=str(len(lines)))
    for line in lines:
        vector = _add(vectors, vector_tag)
        _add(vector, "azimuthTime", _time(_line_time(scene, line)))
        _add(vector, "line", line)
        _add_list(vector, "pixel", pixels, "{:.0f}")
        # A slow drift along the datatake, so the vectors differ.
        drift = 1 + 0.02 * math.sin((grid.first_line + line) / 3000)
        _add_list(vector, lut_tag, power * drift, "{:.6e}")
    if new_layout:
        blocks = _azimuth_blocks(grid)
        azimuth = _add(root, "noiseAzimuthVectorList", count=str(len(blocks)))
        for swath, first, last in blocks:
            vector = _add(azimuth, "noiseAzimuthVector")
            _add(vector, "swath", swath)
            _add(vector, "firstAzimuthLine", 0)
            _add(vector, "firstRangeSample", first)
            _add(vector, "lastAzimuthLine", grid.lines - 1)
            _add(vector, "lastRangeSample", last)
            az_lines = _knots(grid.lines, AZIMUTH_NOISE_STEP)
            # Burst-scale ripple of a few per cent, as in the real vectors.
            ripple = 1.03 + 0.03 * np.sin(2 * np.pi * (grid.first_line + az_lines) / 1400)
            _add_list(vector, "line", az_lines, "{:.0f}")
            _add_list(vector, "noiseAzimuthLut", ripple, "{:.6e}")
    return _document(root)


def _azimuth_blocks(grid: RadarGrid) -> list[tuple[str, int, int]]:
    """(swath, first sample, last sample) of each sub-swath inside the image."""
    bounds = [*SUBSWATH_FIRST, SWATH_SAMPLES]
    blocks = []
    for k in range(3):
        first = max(bounds[k] - grid.swath_sample, 0)
        last = min(bounds[k + 1] - 1 - grid.swath_sample, grid.samples - 1)
        if first <= last:
            blocks.append((f"IW{k + 1}", first, last))
    return blocks


def geolocation_points(scene: Scene) -> dict[str, np.ndarray]:
    """The geolocation grid: :data:`GEOLOCATION_SHAPE` points spread over the whole image,
    with the ground's height (a coarse DEM in real products) and the angles; read-only
    arrays, the same for every scene of the cell and pass."""
    return dict(_geolocation_grid(scene.cell, scene.pass_direction))


@lru_cache(maxsize=8)
def _geolocation_grid(cell: Cell, pass_direction: str) -> tuple[tuple[str, np.ndarray], ...]:
    # Cached: the heights cost a terrain evaluation, and every file of every date needs them.
    grid = radar_grid(cell, pass_direction)
    rows, cols = GEOLOCATION_SHAPE
    line = np.repeat(np.linspace(0, grid.lines - 1, rows).round(), cols)
    pixel = np.tile(np.linspace(0, grid.samples - 1, cols).round(), rows)
    lon, lat = grid.lonlat(line, pixel)
    theta = grid.incidence(pixel)
    ratio = EARTH_RADIUS_M / (EARTH_RADIUS_M + ORBIT_HEIGHT_M)
    columns = {
        "line": line,
        "pixel": pixel,
        "latitude": lat,
        "longitude": lon,
        "height": surface(lon, lat).elevation.astype(np.float64),
        "incidenceAngle": theta,
        "elevationAngle": np.degrees(np.arcsin(ratio * np.sin(np.radians(theta)))),
    }
    for values in columns.values():
        values.setflags(write=False)
    return tuple(columns.items())


def product_xml(scene: Scene, pol: str) -> bytes:
    """The product annotation, reduced to what a GRD reader uses: pass, heading, image size
    and spacing, and the geolocation grid (the real one also has orbits, attitude, Doppler
    and antenna patterns)."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    start, stop = scene_times(scene)
    root = ET.Element("product")
    _ads_header(root, scene, pol)
    info = _add(_add(root, "generalAnnotation"), "productInformation")
    _add(info, "pass", scene.pass_direction.capitalize())
    _add(info, "timelinessCategory", "Fast-24h")
    _add(info, "platformHeading", f"{grid.heading_deg:.15e}")
    _add(info, "projection", "Ground Range")
    _add(info, "radarFrequency", "5.405000454334350e+09")
    image = _add(_add(root, "imageAnnotation"), "imageInformation")
    for tag, text in (
        ("productFirstLineUtcTime", _time(start)),
        ("productLastLineUtcTime", _time(stop)),
        ("productComposition", "Slice"),
        ("pixelValue", "Detected"),
        ("outputPixels", "16 bit Unsigned Integer"),
        ("rangePixelSpacing", f"{PIXEL_SPACING_M:.6e}"),
        ("azimuthPixelSpacing", f"{PIXEL_SPACING_M:.6e}"),
        ("azimuthTimeInterval", f"{LINE_TIME_S:.15e}"),
        ("numberOfSamples", grid.samples),
        ("numberOfLines", grid.lines),
        ("incidenceAngleMidSwath", f"{float(grid.incidence(grid.samples / 2)):.15e}"),
    ):
        _add(image, tag, text)
    points = geolocation_points(scene)
    point_list = _add(
        _add(root, "geolocationGrid"), "geolocationGridPointList", count=str(len(points["line"]))
    )
    for k in range(len(points["line"])):
        point = _add(point_list, "geolocationGridPoint")
        _add(point, "azimuthTime", _time(_line_time(scene, points["line"][k])))
        for tag in ("line", "pixel"):
            _add(point, tag, int(points[tag][k]))
        for tag in ("latitude", "longitude", "height", "incidenceAngle", "elevationAngle"):
            _add(point, tag, f"{points[tag][k]:.15e}")
    return _document(root)


def rfi_xml(scene: Scene, pol: str) -> bytes:
    """A minimal RFI annotation (IPF 3.40 and later): no interference found."""
    root = ET.Element("rfi")
    _ads_header(root, scene, pol)
    _add(root, "rfiMitigationApplied", "None")
    _add(root, "rfiDetectionFromNoiseReportList", count="0")
    _add(root, "rfiBurstReportList", count="0")
    return _document(root)


def manifest_safe(scene: Scene) -> bytes:
    """A minimal ``manifest.safe``: the product name and the IPF version that made it."""
    root = ET.Element(
        "xfdu:XFDU",
        {
            "xmlns:xfdu": "urn:ccsds:schema:xfdu:1",
            "version": "esa/safe/sentinel-1.0/sentinel-1/sar/level-1/standard/iwdp",
        },
    )
    meta = _add(_add(root, "metadataSection"), "metadataObject", ID="processing")
    _add(meta, "software", name="Sentinel-1 IPF", version=ipf_version(scene.centre_time.date()))
    _add(meta, "productName", product_id(scene) + ".SAFE")
    return _document(root)


# --- Names and times ----------------------------------------------------------------------


def scene_times(scene: Scene) -> tuple[dt.datetime, dt.datetime]:
    """Times of the image's first and last line."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    start = scene.centre_time + dt.timedelta(seconds=grid.first_line * LINE_TIME_S)
    return start, start + dt.timedelta(seconds=(grid.lines - 1) * LINE_TIME_S)


def datatake_id(scene: Scene) -> int:
    orbit, datatake = _DATATAKE[scene.platform]
    up = scene.pass_direction == "ascending"
    return datatake + round((scene.absolute_orbit - orbit) * _DATATAKES_PER_ORBIT) + up


def product_id(scene: Scene) -> str:
    """The SAFE product name, ``S1A_IW_GRDH_1SDV_<start>_<stop>_<orbit>_<datatake>_<CRC>``
    (the CRC a hash of the rest here).

    Demo scenes are cell-sized pieces of one datatake, and pieces side by side across the
    track are imaged in the same second, where a real product would hold them all. So that
    each gets its own name and item id, the stop time in the name is the start's second plus
    a whole number of seconds set by the cell's column and row parity: pieces that share a
    start second lie in the same or adjacent rows, and those of one row that share the
    number lie 64 columns apart, wider than a swath up to 50 degrees latitude. The
    annotations and the item's ``end_datetime`` keep the image's true last-line time.
    """
    start, _ = scene_times(scene)
    seconds = 1 + scene.cell[0] % 64 + 64 * (scene.cell[1] % 2)
    stop = start.replace(microsecond=0) + dt.timedelta(seconds=seconds)
    stem = (
        f"{scene.platform}_IW_GRDH_1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
        f"{scene.absolute_orbit:06d}_{datatake_id(scene):06X}"
    )
    crc = hashlib.sha256(stem.encode()).hexdigest()[:4].upper()
    return f"{stem}_{crc}"


def item_id(scene: Scene) -> str:
    """Earth Search's item id: the product name without its CRC."""
    return product_id(scene).rsplit("_", 1)[0]


def product_folder(root: Path, scene: Scene) -> Path:
    day = scene_times(scene)[0]
    return root / PRODUCT_FOLDER / f"{day.year}/{day.month}/{day.day}/IW/DV/{product_id(scene)}"


def item_path(root: Path, scene: Scene) -> Path:
    return root / ITEM_FOLDER / f"{item_id(scene)}.json"


def truth_path(root: Path, cell: Cell) -> Path:
    """The cell's flat-terrain truth: a float32 GeoTIFF (EPSG:4326, band 1 VV, band 2 VH,
    linear gamma0 before season and speckle) on the ~10 m ARD lattice."""
    return root / TRUTH_FOLDER / f"{cell_name(cell)}.tif"


def truth_scenes_path(root: Path, cell: Cell, year: int) -> Path:
    """JSON list of the cell's scenes of the year with their seasonal factor: the expected
    loader output of a scene is the truth times that factor."""
    return root / TRUTH_FOLDER / f"{cell_name(cell)}_{year}.json"


# --- Pixels -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulation:
    """Everything one scene is made of, per polarisation."""

    scene: Scene
    grid: RadarGrid
    documents: dict[str, bytes]
    """File name under ``annotation/`` -> content."""
    dn: dict[str, np.ndarray]
    """(lines, samples) uint16 image, 0 where no data."""
    gamma0: dict[str, np.ndarray]
    """(lines, samples) float32 speckled gamma0 the DN encode (NaN where no data)."""


def simulate(scene: Scene) -> Simulation:
    """The scene's annotations and pixels (pure: the same scene gives the same bits)."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    season = seasonal_factor(scene.centre_time.date(), grid.centre_lat)
    truth = ellipsoid_gamma0(scene.cell, scene.pass_direction)
    valid = valid_lines(scene)
    rfi = ipf_version(scene.centre_time.date()) >= _RFI_IPF
    documents, dn, gamma0 = {}, {}, {}
    lines, pixels = _full_grid(grid)
    for band, pol in enumerate(POLARISATIONS):
        docs = {
            f"calibration/calibration-iw-{pol}.xml": calibration_xml(scene, pol),
            f"calibration/noise-iw-{pol}.xml": noise_xml(scene, pol),
            f"iw-{pol}.xml": product_xml(scene, pol),
        }
        if rfi:
            docs[f"rfi/rfi-iw-{pol}.xml"] = rfi_xml(scene, pol)
        documents |= docs
        # The LUTs as a reader parses them, so calibrating the DN gives back the gamma0.
        cal = s1.parse_calibration(docs[f"calibration/calibration-iw-{pol}.xml"])
        noise = s1.parse_noise(docs[f"calibration/noise-iw-{pol}.xml"])
        lut = s1.interpolate_lut(cal.lines, cal.pixels, cal.gamma, lines, pixels)
        rng = np.random.default_rng(_seed(product_id(scene), pol))
        speckle = rng.standard_gamma(LOOKS, truth[band].shape, dtype=np.float32)
        speckled = truth[band] * np.float32(season / LOOKS) * speckle
        power = speckled * lut**2 + s1.thermal_noise(noise, lines, pixels)
        pol_dn = np.clip(np.rint(np.sqrt(power)), 1, 65535).astype(np.uint16)
        pol_dn[valid:] = 0
        speckled[valid:] = np.nan
        dn[pol], gamma0[pol] = pol_dn, speckled
    return Simulation(scene, grid, documents, dn, gamma0)


def valid_lines(scene: Scene) -> int:
    """Lines of the image holding data: all, but on a partial scene, where the datatake ends
    over the cell, between 35 and 65 % of them."""
    lines = radar_grid(scene.cell, scene.pass_direction).lines
    return round(lines * (0.35 + 0.3 * uniform("cut", *scene.cell))) if scene.partial else lines


def footprint(scene: Scene) -> list[list[float]]:
    """The outline of the scene's data (pixel edges), counter-clockwise, closed."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    last = valid_lines(scene) - 0.5
    line = np.array([-0.5, -0.5, last, last])
    pixel = np.array([-0.5, grid.samples - 0.5, grid.samples - 0.5, -0.5])
    lon, lat = grid.lonlat(line, pixel)
    ring = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat, strict=True)]
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    if area < 0:
        ring.reverse()
    return [*ring, ring[0]]


# --- Files --------------------------------------------------------------------------------


def write_scene(root: str | os.PathLike, scene: Scene) -> Path:
    """Write the scene's product folder, then its item (last: an item means a whole scene).
    Every file is written atomically; the same scene always gives byte-identical files."""
    root = Path(root)
    sim = simulate(scene)
    folder = product_folder(root, scene)
    for name, content in sim.documents.items():
        _write_bytes(folder / "annotation" / name, content)
    for pol in POLARISATIONS:
        _write_measurement(folder / f"measurement/iw-{pol}.tiff", sim, pol)
    _write_bytes(folder / "manifest.safe", manifest_safe(scene))
    _write_quicklook(folder / "preview/quick-look.png", sim)
    path = item_path(root, scene)
    text = json.dumps(s1_item(sim, folder, path), indent=1) + "\n"
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _write_bytes(path: Path, content: bytes) -> None:
    replace_atomically(path, lambda tmp: Path(tmp).write_bytes(content))


def gcps(scene: Scene) -> list[GroundControlPoint]:
    """The TIFF's GCPs: the geolocation grid as is (row = line, col = pixel), as in the real
    measurement files. Annotation coordinates are pixel centres, while GDAL puts whole
    coordinates at pixel corners: a GDAL warp from these GCPs should add 0.5 to row and col,
    or the image lands half a pixel (5 m) off."""
    points = geolocation_points(scene)
    return [
        GroundControlPoint(
            row=float(points["line"][k]),
            col=float(points["pixel"][k]),
            x=float(points["longitude"][k]),
            y=float(points["latitude"][k]),
            z=float(points["height"][k]),
            id=str(k + 1),
        )
        for k in range(len(points["line"]))
    ]


def _write_measurement(path: Path, sim: Simulation, pol: str) -> None:
    profile = {
        "driver": "GTiff",
        "width": sim.grid.samples,
        "height": sim.grid.lines,
        "count": 1,
        "dtype": "uint16",
        "nodata": 0,
        "gcps": gcps(sim.scene),
        "crs": CRS.from_epsg(4326),
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(sim.dn[pol], 1)
        with memory.open() as scratch:
            replace_atomically(
                path, lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **COG_OPTIONS)
            )


def _write_quicklook(path: Path, sim: Simulation) -> None:
    """An 8-bit RGB preview, VV, VH and their ratio, 1/8 of the image, like ESA's."""
    vv, vh = (sim.dn[p][::8, ::8].astype(np.float32) for p in POLARISATIONS)
    ratio = np.divide(vv, vh, out=np.zeros_like(vv), where=vh > 0)
    bands = [
        np.clip(b / np.float32(scale), 0, 255) for b, scale in ((vv, 2), (vh, 1), (ratio * 40, 1))
    ]
    rgb = np.stack(bands).astype(np.uint8)

    def write(tmp: str) -> None:
        # A preview has no georeferencing, which rasterio would warn about.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            _write_png(tmp, rgb)

    replace_atomically(path, write)


def _write_png(tmp: str, rgb: np.ndarray) -> None:
    _, height, width = rgb.shape
    profile = {"driver": "PNG", "width": width, "height": height, "count": 3, "dtype": "uint8"}
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(rgb)


def write_truth(root: str | os.PathLike, cell: Cell) -> Path:
    """Write the cell's flat-terrain truth GeoTIFF (see :func:`truth_path`)."""
    path = truth_path(Path(root), cell)
    fields = cell_fields(cell)
    _, h, w = fields.gamma0.shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 2,
        "dtype": "float32",
        "crs": CRS.from_epsg(4326),
        "transform": fields.transform,
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(fields.gamma0)
            scratch.set_band_description(1, "VV")
            scratch.set_band_description(2, "VH")
        with memory.open() as scratch:
            replace_atomically(
                path,
                lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **_TRUTH_OPTIONS),
            )
    return path


def s1_item(sim: Simulation, folder: Path, path: Path) -> dict:
    """The STAC item, with the keys and key order of Earth Search v1's ``sentinel-1-grd``
    items (less :data:`OMITTED_PROPERTIES`); hrefs relative to the item file. Mirrors two
    quirks: ``proj:*`` is a pseudo-grid over the bbox (shape [samples, lines]) and, from IPF
    3.40, ``schema-product-*`` points at the RFI annotation."""
    scene, grid = sim.scene, sim.grid
    start, stop = scene_times(scene)
    ring = footprint(scene)
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    points = geolocation_points(scene)
    pw, ps = float(points["longitude"].min()), float(points["latitude"].min())
    pe, pn = float(points["longitude"].max()), float(points["latitude"].max())
    proj_bbox = [round(v, 6) for v in (pw, ps, pe, pn)]
    shape = [grid.samples, grid.lines]
    base = Path(os.path.relpath(folder.resolve(), path.resolve().parent)).as_posix()
    new_ipf = ipf_version(scene.centre_time.date()) >= _RFI_IPF
    product_annotation = "rfi/rfi-iw-{}.xml" if new_ipf else "iw-{}.xml"
    middle = start + (stop - start) / 2
    properties = {
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:observation_direction": "right",
        "sar:instrument_mode": "IW",
        "sar:polarizations": ["VV", "VH"],
        "sar:product_type": "GRD",
        "sar:resolution_range": 20,
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:pixel_spacing_azimuth": 10,
        "sar:looks_range": 5,
        "sar:looks_azimuth": 1,
        "sar:looks_equivalent_number": LOOKS,
        "sat:platform_international_designator": _DESIGNATOR[scene.platform],
        "sat:orbit_state": scene.pass_direction,
        "sat:absolute_orbit": scene.absolute_orbit,
        "sat:relative_orbit": scene.relative_orbit,
        "proj:epsg": 4326,
        "proj:bbox": proj_bbox,
        "proj:shape": shape,
        "proj:transform": [
            (proj_bbox[2] - proj_bbox[0]) / shape[1],
            0,
            proj_bbox[0],
            0,
            -(proj_bbox[3] - proj_bbox[1]) / shape[0],
            proj_bbox[3],
        ],  # fmt: skip
        "proj:centroid": {
            "lat": round(float(np.mean(ys[:-1])), 5),
            "lon": round(float(np.mean(xs[:-1])), 5),
        },
        "platform": f"sentinel-1{scene.platform[-1].lower()}",
        "constellation": "sentinel-1",
        "start_datetime": f"{_time(start)}Z",
        "end_datetime": f"{_time(stop)}Z",
        "s1:instrument_configuration_ID": "7",
        "s1:datatake_id": str(datatake_id(scene)),
        "s1:product_timeliness": "Fast-24h",
        "s1:processing_level": "1",
        "s1:resolution": "high",
        "s1:orbit_source": "RESORB",
        "s1:slice_number": "1",
        "s1:total_slices": "1",
        "s1:shape": shape,
        "s1:product_identifier": product_id(scene),
        "s1:processing_datetime": f"{_time(start + dt.timedelta(hours=2, minutes=17))}Z",
        "storage:requester_pays": True,
        "datetime": f"{_time(middle)}Z",
        "processing:software": {"ttc-ard-demo-archive": GENERATOR_VERSION},
    }

    def asset(href: str, kind: str, title: str, description: str, roles: list[str]) -> dict:
        return {
            "href": href,
            "type": kind,
            "title": title,
            "description": description,
            "roles": roles,
        }

    xml = "application/xml"
    assets = {
        "safe-manifest": asset(
            f"{base}/manifest.safe",
            xml,
            "Manifest File",
            _DESCRIPTIONS["safe-manifest"],
            ["metadata"],
        )
    }
    for pol in ("vh", "vv"):
        href = f"{base}/annotation/{product_annotation.format(pol)}"
        assets[f"schema-product-{pol}"] = asset(
            href, xml, f"{pol.upper()} Product Schema", _DESCRIPTIONS["product"], ["metadata"]
        )
    for pol in ("vh", "vv"):
        href = f"{base}/annotation/calibration/calibration-iw-{pol}.xml"
        assets[f"schema-calibration-{pol}"] = asset(
            href,
            xml,
            f"{pol.upper()} Calibration Schema",
            _DESCRIPTIONS["calibration"],
            ["metadata"],
        )
    for pol in ("vh", "vv"):
        href = f"{base}/annotation/calibration/noise-iw-{pol}.xml"
        assets[f"schema-noise-{pol}"] = asset(
            href, xml, f"{pol.upper()} Noise Schema", _DESCRIPTIONS["noise"], ["metadata"]
        )
    assets["thumbnail"] = asset(
        f"{base}/preview/quick-look.png",
        "image/png",
        "Preview Image",
        _DESCRIPTIONS["thumbnail"],
        ["thumbnail"],
    )
    for pol in ("vh", "vv"):
        data = asset(
            f"{base}/measurement/iw-{pol}.tiff",
            "image/tiff; application=geotiff; profile=cloud-optimized",
            f"{pol.upper()} Data",
            _DESCRIPTIONS["data"],
            ["data"],
        )
        data = {k: data[k] for k in ("href", "type", "title", "description")} | {
            "raster:bands": [{"nodata": 0, "data_type": "uint16"}],
            "roles": ["data"],
        }
        assets[pol] = data
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id(scene),
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "links": [{"rel": "collection", "type": "application/json", "href": "./collection.json"}],
        "assets": assets,
        "bbox": [min(xs), min(ys), max(xs), max(ys)],
        "stac_extensions": [
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
            "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
            "https://stac-extensions.github.io/storage/v1.0.0/schema.json",
        ],
        "collection": "sentinel-1-grd",
    }


#: Asset descriptions of the real items.
_DESCRIPTIONS = {
    "safe-manifest": (
        "General product metadata in XML format. Contains a high-level textual description "
        "of the product and references to all of product's components, the product metadata, "
        "including the product identification and the resource references, and references to "
        "the physical location of each component file contained in the product."
    ),
    "product": (
        "Describes the main characteristics corresponding to the band: state of the platform "
        "during acquisition, image properties, Doppler information, geographic location, etc."
    ),
    "calibration": (
        "Calibration metadata including calibration information and the beta nought, sigma "
        "nought, gamma and digital number look-up tables that can be used for absolute "
        "product calibration."
    ),
    "noise": "Estimated thermal noise look-up tables",
    "thumbnail": (
        "An averaged, decimated preview image in PNG format. Single polarization products "
        "are represented with a grey scale image. Dual polarization products are represented "
        "by a single composite colour image in RGB with the red channel (R) representing "
        "the  co-polarization VV or HH), the green channel (G) represents the "
        "cross-polarization (VH or HV) and the blue channel (B) represents the ratio of the "
        "cross an co-polarizations."
    ),
    "data": "Actual SAR data that have been processed into an image",
}


# --- The archive --------------------------------------------------------------------------


def write_s1_archive(
    archive_root: str | os.PathLike,
    year: int,
    tile_centres: list[tuple[float, float]],
    workers: int = 1,
) -> dict:
    """Write the Sentinel-1 scenes of ``year`` over the cells of the given tile centres
    (lon, lat) that are not there yet, with each cell's truth; one cell per process.

    Only the acquisitions inside the four quarter windows are written (a quarterly composite
    reads no other); :func:`s1_scenes` lists the whole year. Returns counts and the cells.
    """
    root = Path(archive_root)
    # Every cell the tile's box reaches beyond a cell's margin: tile centres off the 1/18
    # degree lattice (regional origins of the tile grid) reach into a neighbouring cell.
    reach = TILE_HALF_WIDTH_DEG - MARGIN_DEG
    cells = sorted(
        {
            cell_of(lon + dx, lat + dy)
            for lon, lat in tile_centres
            for dx in (-reach, 0.0, reach)
            for dy in (-reach, 0.0, reach)
        }
    )
    jobs = [(str(root), year, cell) for cell in cells]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
            written = list(pool.map(_write_cell, *zip(*jobs, strict=True)))
    else:
        written = [_write_cell(*job) for job in jobs]
    scenes = sum(len(scenes_in_windows(s1_scenes(year, *_centre(c)), year)) for c in cells)
    return {
        "cells": [cell_name(c) for c in cells],
        "scenes": scenes,
        "written": sum(written),
        "skipped": scenes - sum(written),
    }


def _centre(cell: Cell) -> tuple[float, float]:
    west, south, east, north = cell_bounds(cell)
    return (west + east) / 2, (south + north) / 2


def _write_cell(root: str, year: int, cell: Cell) -> int:
    """Write the cell's missing scenes of the year and its truth; returns scenes written."""
    archive = Path(root)
    scenes = scenes_in_windows(s1_scenes(year, *_centre(cell)), year)
    if not truth_path(archive, cell).exists():
        write_truth(archive, cell)
    listing = truth_scenes_path(archive, cell, year)
    if not listing.exists():
        lat = _centre(cell)[1]
        record = [
            {
                "item": item_id(s),
                "datetime": f"{_time(s.centre_time)}Z",
                "pass": s.pass_direction,
                "relative_orbit": s.relative_orbit,
                "partial": s.partial,
                "seasonal_factor": seasonal_factor(s.centre_time.date(), lat),
            }
            for s in scenes
        ]
        text = json.dumps(record, indent=1) + "\n"
        replace_atomically(listing, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    todo = [s for s in scenes if not item_path(archive, s).exists()]
    for scene in todo:
        write_scene(archive, scene)
    return len(todo)


def uniform(*key: object) -> float:
    """A reproducible number in [0, 1) per key (not Python's hash, which varies per run)."""
    return _seed(*key) / 2**64


def _seed(*key: object) -> int:
    """A reproducible 64-bit integer per key."""
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "big")
