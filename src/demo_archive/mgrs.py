"""The Sentinel-2 granule grid: MGRS 100 km squares, each extended to a 109.8 km granule.

A granule is named by its UTM zone, latitude band and 100 km square letters (``30NXN``) and
lies on a 60 m lattice of its zone's UTM projection: its west edge is the square's west edge
rounded down to a multiple of 60 m, its north edge the square's north edge rounded up (from
the equator, so southern granules round towards it too), and it reaches 109.8 km east and
south from there. Three real Earth Search items pin this down (13TDE at 399960/4500000, 24MWV
at 499980/9500020, 28QCH at 300000/2300040; see tests/test_demo_s2.py).

Simplifications, fine for a demo archive: every square whose 100 km overlaps its zone's 6°
strip between 80°S and 84°N is a granule (the real grid has only those over land and coasts),
a square takes the latitude band of its centre (real MGRS may cut a square at a band edge),
and the Norway and Svalbard zone exceptions are ignored. Granules of zones 60 and 1 reach
across the antimeridian: their footprints run on past 180 degrees (see :func:`footprint`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as reproject_points
from shapely.geometry import Polygon, box

#: Side of a granule, metres: the 100 km square plus 9.8 km of overlap east and south.
GRANULE_SIZE_M = 109_800
SQUARE_SIZE_M = 100_000
#: Granule corners lie on this lattice of the zone's UTM coordinates.
ORIGIN_STEP_M = 60
#: False northing of the southern UTM zones.
SOUTH_FALSE_NORTHING_M = 10_000_000

LATITUDE_BANDS = "CDEFGHJKLMNPQRSTUVWX"
#: Column letters of the three zone sets (zones 1, 4, ...; 2, 5, ...; 3, 6, ...).
_COLUMN_LETTERS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
#: Row letters repeat every 2,000 km of northing; even zones start five letters later.
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"
_EVEN_ZONE_ROW_SHIFT = 5
#: MGRS covers 80°S to 84°N (the poles are UPS).
_SOUTH_LIMIT, _NORTH_LIMIT = -80.0, 84.0
#: Points per granule or box edge when reprojected: the edges curve a little in the other CRS.
_EDGE_POINTS = 8
_WGS84 = CRS.from_epsg(4326)


@dataclass(frozen=True)
class Granule:
    """One Sentinel-2 granule: its MGRS name, UTM CRS and the UTM coordinates of its
    north-west corner (the origin of its 10, 20 and 60 m pixel grids)."""

    zone: int
    latitude_band: str
    grid_square: str
    epsg: int
    west: int
    north: int

    @property
    def id(self) -> str:
        return f"{self.zone}{self.latitude_band}{self.grid_square}"

    @property
    def south(self) -> int:
        return self.north - GRANULE_SIZE_M

    @property
    def east(self) -> int:
        return self.west + GRANULE_SIZE_M

    def transform(self, resolution: int) -> Affine:
        """The granule's pixel grid at ``resolution`` metres."""
        return Affine(resolution, 0, self.west, 0, -resolution, self.north)


def granule(zone: int, south_hemisphere: bool, column: int, row: int) -> Granule:
    """The granule of the 100 km square ``column`` (1-8, easting / 100 km) and ``row``
    (northing of its south edge / 100 km, counted from the equator, negative in the south)."""
    easting, top = column * SQUARE_SIZE_M, (row + 1) * SQUARE_SIZE_M
    false_northing = SOUTH_FALSE_NORTHING_M if south_hemisphere else 0
    northing_index = (row * SQUARE_SIZE_M + false_northing) // SQUARE_SIZE_M
    shift = _EVEN_ZONE_ROW_SHIFT if zone % 2 == 0 else 0
    letters = (
        _COLUMN_LETTERS[(zone - 1) % 3][column - 1]
        + _ROW_LETTERS[(northing_index + shift) % len(_ROW_LETTERS)]
    )
    epsg = (32700 if south_hemisphere else 32600) + zone
    centre = np.array([easting + SQUARE_SIZE_M / 2]), np.array([top - SQUARE_SIZE_M / 2])
    centre_lat = to_lonlat(epsg, centre[0], centre[1] + false_northing)[1]
    return Granule(
        zone=zone,
        latitude_band=latitude_band(float(centre_lat[0])),
        grid_square=letters,
        epsg=epsg,
        west=easting // ORIGIN_STEP_M * ORIGIN_STEP_M,
        north=-(-top // ORIGIN_STEP_M) * ORIGIN_STEP_M + false_northing,
    )


def latitude_band(lat: float) -> str:
    """The MGRS latitude band letter (8° bands from 80°S; X spans 72°N to 84°N)."""
    return LATITUDE_BANDS[min(int((lat - _SOUTH_LIMIT) // 8), len(LATITUDE_BANDS) - 1)]


def granules_intersecting(west: float, south: float, east: float, north: float) -> list[Granule]:
    """Every granule, in any zone and either hemisphere, whose 109.8 km extent intersects the
    lon/lat box, sorted by id. A granule belongs to a zone when its 100 km square overlaps the
    zone's 6° strip, so near a zone edge granules of both zones answer, and near the equator
    those of both hemispheres (northern granules reach 9.8 km south of it)."""
    area = box(west, south, east, north)
    # A square overlapping a zone reaches up to one granule beyond the zone edge.
    coslat = math.cos(math.radians(min(max(abs(south), abs(north)), 85.0)))
    margin = GRANULE_SIZE_M / (111_320 * coslat)
    first = math.floor((west - margin + 180) / 6)
    last = math.floor((east + margin + 180) / 6)
    zones = sorted({index % 60 + 1 for index in range(first, last + 1)})
    # Northern granules reach 9.8 km (under 0.1 degree) south of the equator.
    hemispheres = [h for h, touches in ((False, north > -0.1), (True, south < 0)) if touches]
    found = [g for zone in zones for h in hemispheres for g in _zone_granules(zone, h, area)]
    return sorted(found, key=lambda g: g.id)


def footprint(granule: Granule) -> Polygon:
    """The granule's extent in lon/lat, corners north-west, south-west, south-east, north-east
    (counter-clockwise, as Earth Search writes them), each edge densified. Longitudes are
    continuous around the zone's central meridian (:func:`unwrap_lon`), so a granule across
    the antimeridian is one simple polygon reaching past 180 (or -180) degrees."""
    ring = _ring(granule.west, granule.south, granule.east, granule.north)
    lon, lat = to_lonlat(granule.epsg, ring[:, 0], ring[:, 1])
    return Polygon(np.column_stack([unwrap_lon(lon, central_meridian(granule.zone)), lat]))


def central_meridian(zone: int) -> float:
    """Longitude of the zone's central meridian."""
    return 6.0 * zone - 183.0


def unwrap_lon(lon: np.ndarray, reference: float) -> np.ndarray:
    """``lon`` moved by whole turns to within 180 degrees of ``reference``; longitudes already
    there keep their bits, so away from the antimeridian nothing changes."""
    lon = np.asarray(lon, dtype=np.float64)
    return np.where(
        lon - reference > 180, lon - 360, np.where(lon - reference < -180, lon + 360, lon)
    )


def _zone_granules(zone: int, south_hemisphere: bool, area: Polygon) -> list[Granule]:
    """The granules of one zone and hemisphere that intersect ``area`` (lon/lat)."""
    epsg = (32700 if south_hemisphere else 32600) + zone
    false_northing = SOUTH_FALSE_NORTHING_M if south_hemisphere else 0
    x, y = np.asarray(utm_outline(epsg, *area.bounds).exterior.coords).T
    local_area = Polygon(np.column_stack([x, y - false_northing]))
    x_min, y_min, x_max, y_max = local_area.bounds
    columns = [c for c in range(1, 9) if c * SQUARE_SIZE_M <= x_max]
    columns = [c for c in columns if c * SQUARE_SIZE_M + GRANULE_SIZE_M >= x_min]
    first_row = math.floor(y_min / SQUARE_SIZE_M)
    last_row = math.floor((y_max + GRANULE_SIZE_M - SQUARE_SIZE_M) / SQUARE_SIZE_M)
    rows = range(max(first_row, -SOUTH_FALSE_NORTHING_M // SQUARE_SIZE_M), last_row + 1)
    rows = [r for r in rows if (r < 0) == south_hemisphere]
    zone_west = -180.0 + 6 * (zone - 1)
    found = []
    for column in columns:
        for row in rows:
            square_lon, square_lat = _square_lonlat(epsg, column, row * SQUARE_SIZE_M)
            centre_lat = (square_lat.min() + square_lat.max()) / 2
            in_zone = square_lon.min() < zone_west + 6 and square_lon.max() > zone_west
            if not (in_zone and _SOUTH_LIMIT <= centre_lat < _NORTH_LIMIT):
                continue
            candidate = granule(zone, south_hemisphere, column, row)
            extent = box(
                candidate.west,
                candidate.south - false_northing,
                candidate.east,
                candidate.north - false_northing,
            )
            if extent.intersects(local_area):
                found.append(candidate)
    return found


def _square_lonlat(epsg: int, column: int, bottom: int) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of points along the edges of a 100 km square (``bottom`` from the equator)."""
    false_northing = SOUTH_FALSE_NORTHING_M if epsg > 32700 else 0
    x0, y0 = column * SQUARE_SIZE_M, bottom + false_northing
    ring = _ring(x0, y0, x0 + SQUARE_SIZE_M, y0 + SQUARE_SIZE_M)
    return to_lonlat(epsg, ring[:, 0], ring[:, 1])


def _ring(west: float, south: float, east: float, north: float) -> np.ndarray:
    """(n, 2) points around a box, from the north-west corner counter-clockwise, closed."""
    t = np.arange(_EDGE_POINTS) / _EDGE_POINTS
    edges = [
        (np.full_like(t, west), north + (south - north) * t),
        (west + (east - west) * t, np.full_like(t, south)),
        (np.full_like(t, east), south + (north - south) * t),
        (east + (west - east) * t, np.full_like(t, north)),
    ]
    points = np.concatenate([np.column_stack(edge) for edge in edges])
    return np.vstack([points, points[:1]])


def utm_outline(epsg: int, west: float, south: float, east: float, north: float) -> Polygon:
    """A lon/lat box as a polygon in UTM coordinates of ``epsg``, its edges densified."""
    ring = _ring(west, south, east, north)
    return Polygon(np.column_stack(to_utm(epsg, ring[:, 0], ring[:, 1])))


def to_lonlat(epsg: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTM coordinates of ``epsg`` to longitude and latitude (PROJ, point by point, so a point
    gets the same bits in any batch)."""
    lon, lat = reproject_points(CRS.from_epsg(epsg), _WGS84, np.ravel(x), np.ravel(y))
    return np.reshape(lon, np.shape(x)), np.reshape(lat, np.shape(x))


def to_utm(epsg: int, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude to UTM coordinates of ``epsg``."""
    x, y = reproject_points(_WGS84, CRS.from_epsg(epsg), np.ravel(lon), np.ravel(lat))
    return np.reshape(x, np.shape(lon)), np.reshape(y, np.shape(lon))
