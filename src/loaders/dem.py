"""DEM ARD, the pure core: terrain slope in degrees on the tile's grid (:mod:`loaders.grid`),
from rows of Copernicus DEM GLO-30 elevation as they lie in the source cells, interpolated at
the grid's pixel centres.

Also the cell grid of GLO-30 that deciding which cells a tile needs rests on. Reading the cells
is :mod:`loaders.dem_source`'s, the tile job :mod:`loaders.dem_job`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loaders import tiles

#: Rows per cell: 1 arc-second spacing in latitude everywhere.
CELL_ROWS = 3600
# Columns per cell by distance of the cell from the equator (degrees): the longitude spacing widens
# toward the poles (Copernicus DEM product handbook, "GLO-30 grid spacing").
_COLUMNS_BY_LATITUDE = ((50, 3600), (60, 2400), (70, 1800), (80, 1200), (85, 720), (90, 360))

#: Slopes below this are raised to it (the contract's floor; flat ground reads 0.02).
SLOPE_FLOOR_DEG = 0.02
#: Source row spacing in degrees (rows run north to south).
SOURCE_LAT_STEP = 1 / CELL_ROWS


def cell_columns(lat_floor: int) -> int:
    """Number of columns of the cells in the row of cells starting at ``lat_floor``."""
    from_equator = lat_floor if lat_floor >= 0 else -(lat_floor + 1)
    for limit, columns in _COLUMNS_BY_LATITUDE:
        if from_equator < limit:
            return columns
    raise ValueError(f"latitude {lat_floor} is outside the Copernicus DEM grid")


def cells_covering(bbox: tiles.BBox) -> list[tuple[int, int]]:
    """(lat_floor, lon_floor) of every cell holding a pixel centre inside ``bbox``, north first.

    A cell (lat_floor, lon_floor) holds the pixel centres with latitude in (lat_floor,
    lat_floor + 1] and longitude in [lon_floor, lon_floor + 1).
    """
    lat_floors = range(math.ceil(bbox.south) - 1, math.ceil(bbox.north))
    lon_floors = range(math.floor(bbox.west), math.floor(bbox.east) + 1)
    return [(lat, lon) for lat in reversed(lat_floors) for lon in lon_floors]


@dataclass(frozen=True)
class ElevationBand:
    """Source rows that share one column spacing: the cells of one 1-degree row, side by side."""

    elevation: np.ndarray
    """(rows, cols) elevation in metres."""
    first_lat: float
    """Latitude of the pixel centres of row 0; later rows lie 1 arc-second further south."""
    first_lon: float
    """Longitude of the pixel centres of column 0."""
    lon_step: float
    """Degrees between columns (1 arc-second below 50 degrees latitude, wider toward the poles)."""


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Length in metres of one degree of longitude and of latitude at ``lat`` on the WGS84
    ellipsoid (the usual series expansion, accurate to centimetres)."""
    phi = math.radians(lat)
    lon_m = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    lat_m = 111132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    return lon_m, lat_m


def slope_degrees(elevation: np.ndarray, dx_m: float, dy_m: float) -> np.ndarray:
    """Slope in degrees from central differences, with the 1-pixel border dropped.

    ``elevation`` is (H + 2, W + 2) with pixels ``dx_m`` wide and ``dy_m`` tall; the result is
    (H, W) float32, floored at :data:`SLOPE_FLOOR_DEG`.
    """
    dz_dx = (elevation[1:-1, 2:] - elevation[1:-1, :-2]) / (2 * dx_m)
    dz_dy = (elevation[2:, 1:-1] - elevation[:-2, 1:-1]) / (2 * dy_m)
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    return np.maximum(slope, SLOPE_FLOOR_DEG).astype(np.float32)


def elevation_at(bands: Sequence[ElevationBand], lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Elevation at the points ``lons``, ``lats`` (arrays of one shape, degrees), bilinear.

    ``bands`` hold the source rows around the points, north first, contiguous from one band to
    the next. Each of the two rows around a point is interpolated along its own columns, then
    the two values along latitude, so that cells of different column spacing join exactly.
    Non-finite source values carry through; :func:`loaders.dem_source.read_tile_elevation`
    refuses them.
    """
    rows = sum(band.elevation.shape[0] for band in bands)
    lower, weight = _samples_around(lats, bands[0].first_lat, -SOURCE_LAT_STEP, rows)
    below = _along_rows(bands, lower, lons)
    above = _along_rows(bands, lower + 1, lons)
    return below + (above - below) * weight


def _samples_around(
    targets: np.ndarray, first: float, step: float, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sample before each of ``targets`` among ``count`` samples at ``first + k * step``,
    and the float32 weight of the one after it; ValueError for a target outside them."""
    position = (targets - first) / step
    if position.min() < -1e-6 or position.max() > count - 1 + 1e-6:
        raise ValueError(
            f"interpolation targets {targets.min()}..{targets.max()} fall outside the "
            f"{count} samples from {first} by {step}"
        )
    lower = np.clip(np.floor(position).astype(np.intp), 0, count - 2)
    return lower, (position - lower).astype(np.float32)


def _along_rows(bands: Sequence[ElevationBand], rows: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Elevation in source row ``rows`` (counted across the bands) at ``lons``, each point in
    its own row, interpolated along the row's columns."""
    values = np.empty(rows.shape, np.float32)
    start = 0
    for band in bands:
        band_rows, columns = band.elevation.shape
        mine = (rows >= start) & (rows < start + band_rows)
        if mine.any():
            left, weight = _samples_around(lons[mine], band.first_lon, band.lon_step, columns)
            row = rows[mine] - start
            west, east = band.elevation[row, left], band.elevation[row, left + 1]
            values[mine] = west + (east - west) * weight
        start += band_rows
    return values


def points_extent(lons: np.ndarray, lats: np.ndarray) -> tiles.BBox:
    """The lon/lat box of the points ``lons``, ``lats`` (arrays of one shape)."""
    return tiles.BBox(float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max()))


def source_cells(extent: tiles.BBox) -> list[tuple[int, int]]:
    """(lat_floor, lon_floor) of the cells holding source pixels that elevations at points
    within ``extent`` interpolate from: one source pixel around it."""
    # Columns are at most 10 arc-seconds apart (the widest spacing below 85 degrees).
    return cells_covering(
        tiles.BBox(
            extent.west - 10 / 3600,
            extent.south - SOURCE_LAT_STEP,
            extent.east + 10 / 3600,
            extent.north + SOURCE_LAT_STEP,
        )
    )


@dataclass(frozen=True)
class CellWindow:
    """The part of one cell that the tile needs: rows and columns, stops excluded."""

    lat_floor: int
    lon_floor: int
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int


@dataclass(frozen=True)
class BandWindows:
    """The windows of one row of cells that make up one :class:`ElevationBand` side by side,
    with where the band's rows and columns lie."""

    windows: tuple[CellWindow, ...]
    first_lat: float
    first_lon: float
    lon_step: float


def source_windows(extent: tiles.BBox) -> list[BandWindows]:
    """The windows of the source cells that :func:`elevation_at` needs for points within
    ``extent``, one :class:`BandWindows` per row of cells, north first."""
    north, south = extent.north + SOURCE_LAT_STEP, extent.south - SOURCE_LAT_STEP
    cells = source_cells(extent)
    bands = []
    for lat_floor in sorted({lat for lat, _ in cells}, reverse=True):
        columns = cell_columns(lat_floor)
        top = lat_floor + 1
        row_start = max(0, math.floor((top - north) * CELL_ROWS))
        row_stop = min(CELL_ROWS, math.ceil((top - south) * CELL_ROWS) + 1)
        if row_start >= row_stop:
            continue
        windows = []
        for lon_floor in sorted(lon for lat, lon in cells if lat == lat_floor):
            col_start = max(0, math.floor((extent.west - lon_floor) * columns) - 1)
            col_stop = min(columns, math.ceil((extent.east - lon_floor) * columns) + 2)
            if col_start < col_stop:
                windows.append(
                    CellWindow(lat_floor, lon_floor, row_start, row_stop, col_start, col_stop)
                )
        bands.append(
            BandWindows(
                windows=tuple(windows),
                first_lat=top - row_start / CELL_ROWS,
                first_lon=windows[0].lon_floor + windows[0].col_start / columns,
                lon_step=1 / columns,
            )
        )
    return bands
