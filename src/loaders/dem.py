"""DEM ARD, the pure core: terrain slope in degrees on the tile's ~10 m grid, from rows of
Copernicus DEM GLO-30 elevation as they lie in the source cells.

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

#: The output grid refines the 1 arc-second source 3 times (~10 m), as the old pipeline did.
UPSAMPLE = 3
#: Output pixel size in degrees, both axes.
OUTPUT_RES_DEG = 1 / (3600 * UPSAMPLE)
#: Slopes below this are raised to it (the contract's floor; flat ground reads 0.02).
SLOPE_FLOOR_DEG = 0.02
#: Source row spacing in degrees (rows run north to south).
SOURCE_LAT_STEP = 1 / CELL_ROWS
#: The output grid's CRS: lon/lat, like the source cells.
OUTPUT_CRS = "EPSG:4326"


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


def output_shape(bbox: tiles.BBox) -> tuple[int, int]:
    """(rows, cols) of the slope output over ``bbox``: 600 x 600 for a 1/18 degree tile."""
    return (
        round((bbox.north - bbox.south) / OUTPUT_RES_DEG),
        round((bbox.east - bbox.west) / OUTPUT_RES_DEG),
    )


def output_transform(bbox: tiles.BBox) -> list[float]:
    """The six affine coefficients of the output grid over ``bbox`` (north-up, lon/lat)."""
    return [OUTPUT_RES_DEG, 0.0, bbox.west, 0.0, -OUTPUT_RES_DEG, bbox.north]


def grid_centres(bbox: tiles.BBox, border: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre latitudes (north to south) and longitudes of the output grid over ``bbox``,
    grown by ``border`` pixels on every side."""
    rows, cols = output_shape(bbox)
    i = np.arange(-border, rows + border)
    j = np.arange(-border, cols + border)
    return bbox.north - (i + 0.5) * OUTPUT_RES_DEG, bbox.west + (j + 0.5) * OUTPUT_RES_DEG


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Length in metres of one degree of longitude and of latitude at ``lat`` on the WGS84
    ellipsoid (the usual series expansion, accurate to centimetres)."""
    phi = math.radians(lat)
    lon_m = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    lat_m = 111132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    return lon_m, lat_m


def interp_uniform(
    values: np.ndarray, first: float, step: float, targets: np.ndarray, axis: int
) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis``, whose samples lie at
    ``first + k * step``, at the coordinates ``targets`` (all inside the sampled range)."""
    n = values.shape[axis]
    position = (targets - first) / step
    if position.min() < -1e-6 or position.max() > n - 1 + 1e-6:
        raise ValueError(
            f"interpolation targets {targets.min()}..{targets.max()} fall outside the "
            f"{n} samples from {first} by {step}"
        )
    lower = np.clip(np.floor(position).astype(np.intp), 0, n - 2)
    weight = (position - lower).astype(values.dtype)
    shape = [1] * values.ndim
    shape[axis] = -1
    weight = weight.reshape(shape)
    below = np.take(values, lower, axis=axis)
    above = np.take(values, lower + 1, axis=axis)
    return below + (above - below) * weight


def slope_degrees(elevation: np.ndarray, dx_m: float, dy_m: float) -> np.ndarray:
    """Slope in degrees from central differences, with the 1-pixel border dropped.

    ``elevation`` is (H + 2, W + 2) with pixels ``dx_m`` wide and ``dy_m`` tall; the result is
    (H, W) float32, floored at :data:`SLOPE_FLOOR_DEG`.
    """
    dz_dx = (elevation[1:-1, 2:] - elevation[1:-1, :-2]) / (2 * dx_m)
    dz_dy = (elevation[2:, 1:-1] - elevation[:-2, 1:-1]) / (2 * dy_m)
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    return np.maximum(slope, SLOPE_FLOOR_DEG).astype(np.float32)


def slope_on_tile(elevation: np.ndarray, bbox: tiles.BBox) -> np.ndarray:
    """The DEM ARD of the tile covering ``bbox``: slope in degrees on the ~10 m output grid, from
    the elevation on that grid grown by one pixel (:func:`elevation_on_tile`)."""
    dx_m, dy_m = pixel_size_m(bbox)
    return slope_degrees(elevation, dx_m, dy_m)


def pixel_size_m(bbox: tiles.BBox) -> tuple[float, float]:
    """Width and height in metres of the output grid's pixels at the box's mid latitude."""
    lon_m, lat_m = metres_per_degree((bbox.north + bbox.south) / 2)
    return OUTPUT_RES_DEG * lon_m, OUTPUT_RES_DEG * lat_m


def elevation_on_tile(bands: Sequence[ElevationBand], bbox: tiles.BBox) -> np.ndarray:
    """Elevation on the output grid over ``bbox`` grown by one pixel, (H + 2, W + 2), so that
    central differences cover the whole tile.

    ``bands`` hold the source rows around ``bbox``, north first, contiguous from one band to the
    next. Elevation is interpolated bilinearly (columns within each band, then rows across all
    bands, so cells of different column spacing join exactly). Non-finite source values carry
    through; :func:`loaders.dem_source.read_tile_elevation` refuses them.
    """
    lats, lons = grid_centres(bbox, border=1)
    columns_done = [
        interp_uniform(band.elevation, band.first_lon, band.lon_step, lons, axis=1)
        for band in bands
    ]
    return interp_uniform(
        np.concatenate(columns_done, axis=0), bands[0].first_lat, -SOURCE_LAT_STEP, lats, axis=0
    )


def source_cells(bbox: tiles.BBox) -> list[tuple[int, int]]:
    """(lat_floor, lon_floor) of the cells holding source pixels that the slope of ``bbox``
    interpolates from: the output grid plus its border, and one source pixel around it."""
    lats, lons = grid_centres(bbox, border=1)
    # Columns are at most 10 arc-seconds apart (the widest spacing below 85 degrees).
    lon_pad = 10 / 3600
    return cells_covering(
        tiles.BBox(
            lons[0] - lon_pad,
            lats[-1] - SOURCE_LAT_STEP,
            lons[-1] + lon_pad,
            lats[0] + SOURCE_LAT_STEP,
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


def source_windows(bbox: tiles.BBox) -> list[BandWindows]:
    """The windows of the source cells that :func:`elevation_on_tile` needs for ``bbox``, one
    :class:`BandWindows` per row of cells, north first."""
    lats, lons = grid_centres(bbox, border=1)
    north, south = lats[0] + SOURCE_LAT_STEP, lats[-1] - SOURCE_LAT_STEP
    cells = source_cells(bbox)
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
            col_start = max(0, math.floor((lons[0] - lon_floor) * columns) - 1)
            col_stop = min(columns, math.ceil((lons[-1] - lon_floor) * columns) + 2)
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
