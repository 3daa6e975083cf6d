"""Demo archive, geoid part: the height of the demo's geoid above the WGS84 ellipsoid (its
undulation), as a global grid shaped like PROJ's EGM2008 grid ``us_nga_egm08_25.tif``.

The Copernicus DEM gives heights above the EGM2008 geoid, while Sentinel-1 annotations give
them above the ellipsoid. The demo keeps the same split: its terrain (:mod:`.terrain`) and DEM
cells are heights above its geoid, and its radar images the ground at the terrain's height
plus :func:`undulation`, which the annotations' heights include too. A loader that does not add
the undulation to the DEM's heights then misplaces every pixel in range, as it would on real
scenes.

The undulation is bilinear between the grid's nodes, so the file holds the field exactly.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.io import MemoryFile

from demo_archive.terrain import PointGrid, fbm
from loaders.ard_io import replace_atomically

#: Node spacing, degrees. EGM2008's grid has 2.5 arc-minutes; the demo's field is smoother
#: (features thousands of kilometres across), so coarser nodes carry it.
NODE_DEG = 1 / 4
#: Nodes per row, both -180 and 180 included, and per column, 90 to -90.
COLUMNS, ROWS = round(360 / NODE_DEG) + 1, round(180 / NODE_DEG) + 1
#: Mean and spread of the undulation, metres: roughly -40 to +70 m, as in the tropics.
MEAN_M, SPREAD_M = 15.0, 40.0
#: The archive's folder for the grid (published as a bucket by the served archive), the
#: grid's name, and its path in the archive.
GEOID_FOLDER, GEOID_FILE = "geoid", "demo_geoid.tif"
GEOID_PATH = f"{GEOID_FOLDER}/{GEOID_FILE}"

_COG_OPTIONS = {
    "compress": "DEFLATE",
    "predictor": "FLOATING_POINT",
    "blocksize": 256,
    "overviews": "NONE",
    "num_threads": 1,
}


@lru_cache(maxsize=1)
def node_values() -> np.ndarray:
    """(ROWS, COLUMNS) float32 undulation at the nodes, north-west first. The noise wraps at
    360 degrees, so the -180 and 180 columns are equal."""
    lon = -180 + np.arange(COLUMNS) * NODE_DEG
    lat = 90 - np.arange(ROWS) * NODE_DEG
    values = np.float32(MEAN_M) + np.float32(SPREAD_M) * fbm(PointGrid(lon, lat), 8.0, 2, salt=400)
    values.setflags(write=False)
    return values


def undulation(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres of the geoid above the ellipsoid at the points (float64, broadcast shape),
    bilinear between the nodes; longitudes past 180 are taken round the globe."""
    lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    column = np.mod(lon + 180, 360) / NODE_DEG
    row = np.clip((90 - lat) / NODE_DEG, 0, ROWS - 1)
    c0 = np.minimum(np.floor(column).astype(np.int64), COLUMNS - 2)
    r0 = np.minimum(np.floor(row).astype(np.int64), ROWS - 2)
    tc, tr = column - c0, row - r0
    nodes = node_values().astype(np.float64)
    top = nodes[r0, c0] * (1 - tc) + nodes[r0, c0 + 1] * tc
    bottom = nodes[r0 + 1, c0] * (1 - tc) + nodes[r0 + 1, c0 + 1] * tc
    return top * (1 - tr) + bottom * tr


def geoid_path(root: str | os.PathLike) -> Path:
    return Path(root) / GEOID_PATH


def write_geoid(root: str | os.PathLike) -> Path:
    """Write the grid under the archive ``root`` unless it is there: a float32 COG in
    EPSG:4326 whose pixel centres are the nodes (as PROJ's grids), written atomically."""
    path = geoid_path(root)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": COLUMNS,
        "height": ROWS,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(NODE_DEG, 0, -180 - NODE_DEG / 2, 0, -NODE_DEG, 90 + NODE_DEG / 2),
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(node_values(), 1)
            scratch.update_tags(AREA_OR_POINT="Point")
        with memory.open() as scratch:
            replace_atomically(
                path, lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **_COG_OPTIONS)
            )
    return path
