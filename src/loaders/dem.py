"""DEM ARD: terrain slope in degrees on the tile's ~10 m grid, from Copernicus DEM GLO-30.

The pure core (:func:`slope_on_tile`) takes rows of elevation as they lie in the source cells
and returns the slope array; reading the cells (:func:`read_elevation_bands`) and writing the
output (:func:`run`) are kept at the edges.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from loaders.ard_io import write_tile
from loaders.copdem import CELL_ROWS, cell_columns, cell_id, cells_covering
from loaders.errors import TileDataError, read_error
from loaders.tiles import BBox, Tile

#: The output grid refines the 1 arc-second source 3 times (~10 m), as the old pipeline did.
UPSAMPLE = 3
#: Output pixel size in degrees, both axes.
OUTPUT_RES_DEG = 1 / (3600 * UPSAMPLE)
#: Slopes below this are raised to it (the contract's floor; flat ground reads 0.02).
SLOPE_FLOOR_DEG = 0.02
#: Source row spacing in degrees (rows run north to south).
SOURCE_LAT_STEP = 1 / CELL_ROWS


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


def output_shape(bbox: BBox) -> tuple[int, int]:
    """(rows, cols) of the slope output over ``bbox``: 600 x 600 for a 1/18 degree tile."""
    return (
        round((bbox.north - bbox.south) / OUTPUT_RES_DEG),
        round((bbox.east - bbox.west) / OUTPUT_RES_DEG),
    )


def grid_centres(bbox: BBox, border: int = 0) -> tuple[np.ndarray, np.ndarray]:
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


def slope_on_tile(bands: Sequence[ElevationBand], bbox: BBox) -> np.ndarray:
    """The DEM ARD of the tile covering ``bbox``: slope in degrees on the ~10 m output grid."""
    dx_m, dy_m = pixel_size_m(bbox)
    return slope_degrees(elevation_on_tile(bands, bbox), dx_m, dy_m)


def pixel_size_m(bbox: BBox) -> tuple[float, float]:
    """Width and height in metres of the output grid's pixels at the box's mid latitude."""
    lon_m, lat_m = metres_per_degree((bbox.north + bbox.south) / 2)
    return OUTPUT_RES_DEG * lon_m, OUTPUT_RES_DEG * lat_m


def elevation_on_tile(bands: Sequence[ElevationBand], bbox: BBox) -> np.ndarray:
    """Elevation on the output grid over ``bbox`` grown by one pixel, (H + 2, W + 2), so that
    central differences cover the whole tile.

    ``bands`` hold the source rows around ``bbox``, north first, contiguous from one band to the
    next. Elevation is interpolated bilinearly (columns within each band, then rows across all
    bands, so cells of different column spacing join exactly).
    """
    lats, lons = grid_centres(bbox, border=1)
    columns_done = [
        interp_uniform(band.elevation, band.first_lon, band.lon_step, lons, axis=1)
        for band in bands
    ]
    elevation = interp_uniform(
        np.concatenate(columns_done, axis=0), bands[0].first_lat, -SOURCE_LAT_STEP, lats, axis=0
    )
    if not np.isfinite(elevation).all():
        raise TileDataError("bad_data", "the DEM holds non-finite elevations over the tile")
    return elevation


def source_cells(bbox: BBox) -> list[tuple[int, int]]:
    """(lat_floor, lon_floor) of the cells holding source pixels that the slope of ``bbox``
    interpolates from: the output grid plus its border, and one source pixel around it."""
    lats, lons = grid_centres(bbox, border=1)
    # Columns are at most 10 arc-seconds apart (the widest spacing below 85 degrees).
    lon_pad = 10 / 3600
    return cells_covering(
        BBox(
            lons[0] - lon_pad,
            lats[-1] - SOURCE_LAT_STEP,
            lons[-1] + lon_pad,
            lats[0] + SOURCE_LAT_STEP,
        )
    )


def read_elevation_bands(bbox: BBox, cell_url: Callable[[str], str]) -> list[ElevationBand]:
    """Read the source rows and columns that :func:`slope_on_tile` needs for ``bbox``.

    ``cell_url`` maps a cell's file stem to where its COG is (a local path or an ``s3://`` URL).
    Only the window around the tile is read from each cell.
    """
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
        blocks, first_lon = [], None
        for lon_floor in sorted(lon for lat, lon in cells if lat == lat_floor):
            col_start = max(0, math.floor((lons[0] - lon_floor) * columns) - 1)
            col_stop = min(columns, math.ceil((lons[-1] - lon_floor) * columns) + 2)
            if col_start >= col_stop:
                continue
            if first_lon is None:
                first_lon = lon_floor + col_start / columns
            window = Window(col_start, row_start, col_stop - col_start, row_stop - row_start)
            blocks.append(_read_window(cell_url(cell_id(lat_floor, lon_floor)), window))
        bands.append(
            ElevationBand(
                elevation=np.concatenate(blocks, axis=1),
                first_lat=top - row_start / CELL_ROWS,
                first_lon=first_lon,
                lon_step=1 / columns,
            )
        )
    return bands


def _read_window(url: str, window: Window) -> np.ndarray:
    try:
        with rasterio.open(url) as src:
            return src.read(1, window=window, out_dtype=np.float32)
    except RasterioIOError as err:
        raise read_error(f"DEM cell {Path(url).name}", url, err) from err


def grid_record(bbox: BBox) -> dict:
    """The output grid over ``bbox`` as QA records describe grids: CRS, transform, shape."""
    return {
        "crs": "EPSG:4326",
        "transform": [OUTPUT_RES_DEG, 0.0, bbox.west, 0.0, -OUTPUT_RES_DEG, bbox.north],
        "shape": list(output_shape(bbox)),
    }


def qa_record(tile: Tile, bands: Sequence[ElevationBand], slope: np.ndarray) -> dict:
    """The tile's data-quality record: its grid, and the elevation and slope statistics."""
    elevation = np.concatenate([band.elevation.ravel() for band in bands])
    return {
        "product": "dem",
        "tile": tile.tag,
        "grid": grid_record(tile.bbox),
        "elevation_m": _stats(elevation),
        "slope_deg": _stats(slope),
        "at_slope_floor": float(np.mean(slope <= SLOPE_FLOOR_DEG)),
        # For the run's outlier checks: the tile's typical value, and whether it is constant.
        "typical": float(np.median(slope)),
        "constant": bool(slope.min() == slope.max()),
    }


def _stats(values: np.ndarray) -> dict:
    p05, p50, p95 = np.percentile(values, [5, 50, 95])
    return {
        "min": float(values.min()),
        "p05": float(p05),
        "median": float(p50),
        "p95": float(p95),
        "max": float(values.max()),
        "mean": float(values.mean()),
    }


def run(spec: dict) -> dict:
    """Produce and write the DEM ARD of one tile; returns its QA record.

    ``spec``: ``tile`` (Tile fields), ``outputs.dem`` (destination path), ``qa`` (where the QA
    record goes, optional), ``dem_root`` (folder or ``s3://`` prefix holding
    ``<cell>/<cell>.tif``) and optional ``gdal_env`` settings.
    """
    tile = Tile(**spec["tile"])
    root = spec["dem_root"].rstrip("/")
    with rasterio.Env(**spec.get("gdal_env", {})):
        bands = read_elevation_bands(tile.bbox, lambda cell: f"{root}/{cell}/{cell}.tif")
    slope = slope_on_tile(bands, tile.bbox)
    qa = qa_record(tile, bands, slope)
    write_tile(spec, qa, {"dem": slope})
    return {"shape": list(slope.shape), "dtype": str(slope.dtype), "qa": qa}
