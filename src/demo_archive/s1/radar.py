"""Radar geometry: the 1/18 degree cell lattice and the image grid of a cell's scenes.

A scene's lines run along the ground track (heading about -12.6 degrees ascending, -167.4
descending) and its pixels across it, away from the track (Sentinel-1 looks right), both 10 m
apart on a plane tangent at the cell centre; line 0 is the first imaged, pixel 0 the nearest.
This grid places ground at the geolocation grid's heights; ground above or below them is
imaged nearer or farther in range (:func:`demo_archive.s1.ground.imaged_ground`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from loaders.dem import metres_per_degree

#: Side of a lattice cell (the tile grid), and the margin a scene covers around its cell.
CELL_DEG = 1 / 18
MARGIN_DEG = 1 / 360
#: GRDH pixel spacing, metres.
PIXEL_SPACING_M = 10.0

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
ANCHORS = {
    "descending": (53909, dt.datetime(2024, 5, 17, 9, 32, 24, 676101), -58.03415, -5.57042),
    "ascending": (39156, dt.datetime(2021, 8, 9, 17, 40, 5, 653288), 3.36974, 45.48933),
}


Cell = tuple[int, int]
"""(column, row) of a 1/18 degree lattice cell: its south-west corner is (column, row) / 18."""


def cell_of(lon: float, lat: float) -> Cell:
    """The lattice cell holding a point (a tile centre lies inside its own cell)."""
    return math.floor(lon / CELL_DEG), math.floor(lat / CELL_DEG)


def cell_name(cell: Cell) -> str:
    return f"c{cell[0]:+05d}{cell[1]:+05d}"


def cell_bounds(cell: Cell, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the cell grown by ``margin`` degrees."""
    west, south = cell[0] * CELL_DEG, cell[1] * CELL_DEG
    return west - margin, south - margin, west + CELL_DEG + margin, south + CELL_DEG + margin


def cell_centre(cell: Cell) -> tuple[float, float]:
    west, south, east, north = cell_bounds(cell)
    return (west + east) / 2, (south + north) / 2


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
    anchor_lon, anchor_lat = ANCHORS[pass_direction][2:]
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
