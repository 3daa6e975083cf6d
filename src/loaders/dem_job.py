"""The DEM tile job: the tile's slope from the Copernicus DEM cells, and its QA record."""

from __future__ import annotations

import numpy as np

from loaders import dem, qa
from loaders.dem_source import TileElevation, read_tile_elevation
from loaders.spec import TileJob, TileResult
from loaders.tiles import Tile

#: The output names, those of the job's ``outputs``.
OUTPUTS = ("dem",)
#: GDAL settings of this product over the shared ones (:data:`loaders.reading.GDAL_READ_SETTINGS`):
#: none.
GDAL_SETTINGS: dict[str, str] = {}


def compute(job: TileJob) -> TileResult:
    """The DEM ARD of ``job``'s tile (slope in degrees on its ~10 m grid) and its QA record."""
    elevation = read_tile_elevation(job.tile.bbox, job.dem_root)
    slope = dem.slope_on_tile(elevation.on_grid, job.tile.bbox)
    return TileResult({"dem": slope}, qa_record(job.tile, elevation, slope))


def qa_record(tile: Tile, elevation: TileElevation, slope: np.ndarray) -> dict:
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
        grid_record(tile),
        details,
        typical=float(np.median(slope)),
        constant=bool(slope.min() == slope.max()),
    )


def grid_record(tile: Tile) -> dict:
    """The DEM's output grid over ``tile``, which the S1 output shares."""
    bbox = tile.bbox
    return qa.grid_record(dem.output_transform(bbox), dem.output_shape(bbox), crs=dem.OUTPUT_CRS)


def value_stats(values: np.ndarray) -> dict:
    """Extremes, 5th, 50th and 95th percentiles and mean of ``values``."""
    spread = {"min": 0, "p05": 5, "median": 50, "p95": 95, "max": 100}
    return qa.percentiles(values, spread) | {"mean": float(values.mean())}
