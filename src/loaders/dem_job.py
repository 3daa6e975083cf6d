"""The DEM tile job: the tile's slope from the Copernicus DEM cells, and its QA record."""

from __future__ import annotations

import numpy as np

from loaders import dem, qa
from loaders.dem_source import TileElevation, read_tile_elevation
from loaders.grid import Grid, tile_grid
from loaders.spec import TileJob, TileResult
from loaders.tiles import Tile

#: The output names, those of the job's ``outputs``.
OUTPUTS = ("dem",)
#: GDAL settings of this product over the shared ones (:data:`loaders.reading.GDAL_READ_SETTINGS`):
#: none.
GDAL_SETTINGS: dict[str, str] = {}


def compute(job: TileJob) -> TileResult:
    """The DEM ARD of ``job``'s tile (slope in degrees on its grid, :mod:`loaders.grid`) and its
    QA record."""
    grid = tile_grid(job.tile)
    # One pixel more on every side: the central differences of the edge pixels need it.
    elevation = read_tile_elevation(*grid.pixel_lonlat(border=1), job.dem_root)
    size_m = grid.ground_pixel_size()
    slope = dem.slope_degrees(elevation.on_grid, size_m, size_m)
    return TileResult({"dem": slope}, qa_record(job.tile, grid, elevation, slope))


def qa_record(tile: Tile, grid: Grid, elevation: TileElevation, slope: np.ndarray) -> dict:
    """The tile's QA record: its grid, and the elevation and slope statistics."""
    source = np.concatenate([band.elevation.ravel() for band in elevation.source])
    details = {
        "elevation_m": value_stats(source),
        "slope_deg": value_stats(slope),
        "at_slope_floor": float(np.mean(slope <= dem.SLOPE_FLOOR_DEG)),
    }
    return qa.tile_record(
        "dem",
        tile.tag,
        qa.grid_record(grid.transform, [grid.height, grid.width], crs=grid.crs),
        details,
        typical=float(np.median(slope)),
        constant=bool(slope.min() == slope.max()),
    )


def value_stats(values: np.ndarray) -> dict:
    """Extremes, 5th, 50th and 95th percentiles and mean of ``values``."""
    spread = {"min": 0, "p05": 5, "median": 50, "p95": 95, "max": 100}
    return qa.percentiles(values, spread) | {"mean": float(values.mean())}
