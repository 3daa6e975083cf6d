"""Synthetic Copernicus-shaped DEM cells for tests: analytic surfaces with known slopes."""

import math

import numpy as np
import rasterio
from rasterio.windows import Window

from loaders import dem
from loaders.copdem import CELL_ROWS, cell_columns, cell_id, cell_transform
from loaders.grid import tile_grid
from loaders.tiles import BBox, Tile

# A plane tilted 0.10 east and 0.05 north: slope = atan(hypot(0.10, 0.05)).
PLANE_DX, PLANE_DY = 0.10, 0.05
PLANE_SLOPE = math.degrees(math.atan(math.hypot(PLANE_DX, PLANE_DY)))
#: How far from PLANE_SLOPE the slope of :func:`plane` may be: its surface is a plane in lon/lat
#: scaled to metres, which on the ground bends by up to 2e-4 of its gradient across a tile at
#: 50 degrees (a degree of longitude shortens northward), 0.0013 degrees of slope there.
PLANE_SLOPE_ATOL = 0.002


def plane(lon0: float, lat0: float):
    """Elevation of the plane above, in metres, for lon/lat arrays near (lon0, lat0): its east
    gradient is PLANE_DX in metres of ground at every latitude of the tile (a degree of
    longitude is 0.1 % shorter at its north edge than at its south one at 50 degrees)."""
    _, lat_m = dem.metres_per_degree(lat0)
    lon_m = np.vectorize(lambda lat: dem.metres_per_degree(lat)[0])

    def elevation(lon, lat):
        return 500 + PLANE_DX * (lon - lon0) * lon_m(lat) + PLANE_DY * (lat - lat0) * lat_m

    return elevation


def write_cell(root, lat_floor: int, lon_floor: int, elevation, around: BBox):
    """A Copernicus-shaped cell on disk holding ``elevation`` over the part near ``around``.

    Sparse tiled GeoTIFF: only the window the test needs is written, the rest stays empty.
    """
    columns = cell_columns(lat_floor)
    transform = cell_transform(lat_floor, lon_floor)
    name = cell_id(lat_floor, lon_floor)
    path = root / name / f"{name}.tif"
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = around.buffered(0.01)
    row0 = max(0, math.floor((lat_floor + 1 - pad.north) * CELL_ROWS))
    row1 = min(CELL_ROWS, math.ceil((lat_floor + 1 - pad.south) * CELL_ROWS))
    col0 = max(0, math.floor((pad.west - lon_floor) * columns))
    col1 = min(columns, math.ceil((pad.east - lon_floor) * columns))
    profile = dict(
        driver="GTiff", width=columns, height=CELL_ROWS, count=1, dtype="float32",
        crs="EPSG:4326", transform=transform, tiled=True, blockxsize=256, blockysize=256,
        sparse_ok=True,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        if row0 < row1 and col0 < col1:
            lat = lat_floor + 1 - np.arange(row0, row1) / CELL_ROWS
            lon = lon_floor + np.arange(col0, col1) / columns
            values = elevation(lon[None, :], lat[:, None]).astype(np.float32)
            dst.write(values, 1, window=Window(col0, row0, col1 - col0, row1 - row0))
    return path


def tile_shape(tile: dict) -> list[int]:
    """[rows, columns] of the grid of ``tile`` (a job spec's tile): that of its DEM output."""
    grid = tile_grid(Tile(**tile))
    return [grid.height, grid.width]


def cells_for(root, bbox: BBox, elevation):
    """The cells around ``bbox`` holding ``elevation``, and where each cell lies."""
    # The tile's grid reaches up to a few tens of metres beyond its box.
    for lat_floor, lon_floor in dem.source_cells(bbox.buffered(0.001)):
        write_cell(root, lat_floor, lon_floor, elevation, bbox)
    return lambda name: str(root / name / f"{name}.tif")


#: The first demo tile, as a job spec carries it.
DEMO_TILE = {"year": 2023, "x_tile": 1655, "y_tile": 1083, "lon": -1.6944, "lat": 6.6389}


def dem_spec(tmp_path, dem_root) -> dict:
    """The DEM job of DEMO_TILE as the workflow specifies it (workflow/rules/common.smk)."""
    base = tmp_path / "ard" / "2023/raw/1655/1083/raw"
    return {
        "product": "dem",
        "tile": DEMO_TILE,
        "outputs": {"dem": str(base / "misc/dem_1655X1083Y.hkl")},
        "qa": str(base / "qa/dem_1655X1083Y.json"),
        "dem_root": str(dem_root),
    }
