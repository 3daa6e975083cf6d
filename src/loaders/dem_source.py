"""Copernicus DEM GLO-30 sources of a tile: the windows of the cells around it, read from a
folder or an ``s3://`` prefix holding ``<cell>/<cell>.tif``. Which windows, and what becomes
of them, are :mod:`loaders.dem`'s pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from loaders import accounting, dem
from loaders.copdem import cell_id
from loaders.errors import TileDataError, read_error
from loaders.grid import Grid
from loaders.tiles import BBox


def cell_urls(dem_root: str) -> Callable[[str], str]:
    """Where the COG of a cell (by file stem) lies under ``dem_root``."""
    root = dem_root.rstrip("/")
    return lambda cell: f"{root}/{cell}/{cell}.tif"


def read_elevation_bands(extent: BBox, cell_url: Callable[[str], str]) -> list[dem.ElevationBand]:
    """Read the source rows and columns that :func:`loaders.dem.elevation_at` needs for points
    within ``extent``: only the window around them from each cell.

    ``cell_url`` maps a cell's file stem to where its COG is (a local path or an ``s3://`` URL).
    A cell that is missing or does not read raises :class:`TileDataError`.
    """
    return [
        dem.ElevationBand(
            elevation=np.concatenate([read_window(w, cell_url) for w in band.windows], axis=1),
            first_lat=band.first_lat,
            first_lon=band.first_lon,
            lon_step=band.lon_step,
        )
        for band in dem.source_windows(extent)
    ]


def tile_cells(grid: Grid) -> list[str]:
    """File stems of the cells the DEM and S1 jobs of the tile on ``grid`` read (its pixel
    centres and one pixel around them, see :func:`read_tile_elevation`)."""
    return [cell_id(*cell) for cell in dem.source_cells(grid.lonlat_extent(border=1))]


def read_window(window: dem.CellWindow, cell_url: Callable[[str], str]) -> np.ndarray:
    url = cell_url(cell_id(window.lat_floor, window.lon_floor))
    rows, cols = window.row_stop - window.row_start, window.col_stop - window.col_start
    try:
        cell_window = Window(window.col_start, window.row_start, cols, rows)
        accounting.note_window(url, None, cell_window)
        with accounting.reading(), rasterio.open(url) as src:
            return src.read(1, window=cell_window, out_dtype=np.float32)
    except RasterioIOError as err:
        raise read_error(f"DEM cell {Path(url).name}", url, err) from err


@dataclass(frozen=True)
class TileElevation:
    """The elevation of a tile: as read, and on the tile's grid."""

    source: list[dem.ElevationBand]
    """The source rows around the tile (:func:`read_elevation_bands`)."""
    on_grid: np.ndarray
    """Elevation at the wanted points, all finite."""


def read_tile_elevation(lons: np.ndarray, lats: np.ndarray, dem_root: str) -> TileElevation:
    """The elevation at the points ``lons``, ``lats`` of a tile's grid from the cells under
    ``dem_root``; a DEM with a non-finite value there is unusable: :class:`TileDataError`
    ``bad_data``."""
    source = read_elevation_bands(dem.points_extent(lons, lats), cell_urls(dem_root))
    on_grid = dem.elevation_at(source, lons, lats)
    if not np.isfinite(on_grid).all():
        raise TileDataError("bad_data", "the DEM holds non-finite elevations over the tile")
    return TileElevation(source, on_grid)
