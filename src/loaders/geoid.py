"""The geoid's height above the WGS84 ellipsoid (its undulation N) at a tile's pixels, from a
geoid grid such as PROJ's EGM2008 ``us_nga_egm08_25.tif``: the Copernicus DEM's heights are
above EGM2008, Sentinel-1's geolocation grid gives heights above the ellipsoid, and placing a
pixel in an S1 image needs its height above the ellipsoid, DEM height + N.

The grid is a global GeoTIFF in geographic coordinates whose pixel centres are its nodes. Only
the rows and columns around the points are read (two windows where they straddle the grid's
west and east edge), and N is bilinear between the nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from scipy import ndimage

from loaders import accounting
from loaders.errors import TileDataError, read_error


@dataclass(frozen=True)
class GeoidWindow:
    """The grid's nodes around some points: values, and the grid position of the first."""

    values: np.ndarray
    """float64 metres, rows north to south; columns run on eastward past the grid's edge."""
    first_row: int
    first_column: int
    transform: Affine
    """The whole grid's: maps (column, row) of pixel corners to (lon, lat)."""


def columns_per_turn(transform: Affine) -> int:
    """Columns of the grid of ``transform`` in 360 degrees of longitude."""
    return round(360 / transform.a)


def node_positions(transform: Affine, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """(row, column) of the points on the grid of ``transform``, its nodes at whole values,
    columns taken round the globe into [0, columns per turn)."""
    column = (np.asarray(lons) - transform.c) / transform.a - 0.5
    row = (np.asarray(lats) - transform.f) / transform.e - 0.5
    return np.stack([row, np.mod(column, columns_per_turn(transform))])


def undulation_at(window: GeoidWindow, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """N (metres) at the points, bilinear between the window's nodes."""
    row, column = node_positions(window.transform, lons, lats)
    # Columns of the window run on past the grid's edge: a point west of its first column
    # lies a turn further on.
    turn = columns_per_turn(window.transform)
    column = np.where(column < window.first_column, column + turn, column)
    at = np.stack([row - window.first_row, column - window.first_column])
    return ndimage.map_coordinates(window.values, at, order=1, mode="nearest")


def read_geoid_window(url: str, lons: np.ndarray, lats: np.ndarray) -> GeoidWindow:
    """The nodes of the grid at ``url`` around the points (a local path or a URL GDAL reads);
    :class:`TileDataError` if it cannot be read or holds non-finite values there."""
    try:
        with accounting.reading(), rasterio.open(url) as grid:
            row, column = node_positions(grid.transform, lons, lats)
            first_row = max(0, math.floor(row.min()))
            rows = min(grid.height, math.floor(row.max()) + 2) - first_row
            # From the first column a point needs to the one past the last, eastward and on
            # round the globe if they straddle the edge (a tile's points span a few nodes).
            turn = columns_per_turn(grid.transform)
            wanted = np.floor(column).astype(np.int64)
            first_column, last_column = int(wanted.min()), int(wanted.max())
            if last_column - first_column > turn / 2:  # they straddle the grid's edge
                first_column = int(wanted[wanted > turn / 2].min())
                last_column = int(wanted[wanted <= turn / 2].max()) + turn
            count = last_column - first_column + 2
            parts = []
            start = first_column
            while count > 0:
                start %= turn
                width = min(count, grid.width - start, turn - start)
                window = Window(start, first_row, width, rows)
                accounting.note_window(url, None, window)
                parts.append(grid.read(1, window=window, out_dtype=np.float64))
                start, count = start + width, count - width
            transform = grid.transform
    except RasterioIOError as err:
        raise read_error("the geoid grid", url, err) from err
    values = np.concatenate(parts, axis=1)
    if not np.isfinite(values).all():
        raise TileDataError("bad_data", f"the geoid grid {url} holds non-finite values here")
    return GeoidWindow(values, first_row, first_column, transform)


def tile_undulation(url: str, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """N (metres) at the points, from the geoid grid at ``url``."""
    return undulation_at(read_geoid_window(url, lons, lats), lons, lats)
