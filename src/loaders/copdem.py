"""Names and pixel grids of the Copernicus DEM GLO-30 cells (1 x 1 degree COGs)."""

from __future__ import annotations

import math
import re

from affine import Affine

from loaders.tiles import BBox

#: Rows per cell: 1 arc-second spacing in latitude everywhere.
CELL_ROWS = 3600

# Columns per cell by distance of the cell from the equator (degrees): the longitude spacing widens
# toward the poles (Copernicus DEM product handbook, "GLO-30 grid spacing").
_COLUMNS_BY_LATITUDE = ((50, 3600), (60, 2400), (70, 1800), (80, 1200), (85, 720), (90, 360))


def cell_id(lat_floor: int, lon_floor: int) -> str:
    """The file stem of the cell whose south-west corner is (lat_floor, lon_floor).

    >>> cell_id(6, -2)
    'Copernicus_DSM_COG_10_N06_00_W002_00_DEM'
    """
    ns = "N" if lat_floor >= 0 else "S"
    ew = "E" if lon_floor >= 0 else "W"
    return f"Copernicus_DSM_COG_10_{ns}{abs(lat_floor):02d}_00_{ew}{abs(lon_floor):03d}_00_DEM"


def cell_columns(lat_floor: int) -> int:
    """Number of columns of the cells in the row of cells starting at ``lat_floor``."""
    from_equator = lat_floor if lat_floor >= 0 else -(lat_floor + 1)
    for limit, columns in _COLUMNS_BY_LATITUDE:
        if from_equator < limit:
            return columns
    raise ValueError(f"latitude {lat_floor} is outside the Copernicus DEM grid")


def cell_transform(lat_floor: int, lon_floor: int) -> Affine:
    """The cell's geotransform. Pixels are point samples at whole arc-seconds, so the grid's
    outer edge lies half a pixel outside the cell's corner."""
    x_res = 1 / cell_columns(lat_floor)
    y_res = 1 / CELL_ROWS
    return Affine(x_res, 0.0, lon_floor - x_res / 2, 0.0, -y_res, lat_floor + 1 + y_res / 2)


def cells_covering(bbox: BBox) -> list[tuple[int, int]]:
    """(lat_floor, lon_floor) of every cell holding a pixel centre inside ``bbox``, north first.

    A cell (lat_floor, lon_floor) holds the pixel centres with latitude in (lat_floor,
    lat_floor + 1] and longitude in [lon_floor, lon_floor + 1).
    """
    lat_floors = range(math.ceil(bbox.south) - 1, math.ceil(bbox.north))
    lon_floors = range(math.floor(bbox.west), math.floor(bbox.east) + 1)
    return [(lat, lon) for lat in reversed(lat_floors) for lon in lon_floors]


def parse_cell_id(stem: str) -> tuple[int, int]:
    """(lat_floor, lon_floor) of a cell file stem; the inverse of :func:`cell_id`."""
    match = _CELL_ID.fullmatch(stem)
    if match is None:
        raise ValueError(f"{stem!r} is not a Copernicus DEM GLO-30 cell name")
    ns, lat, ew, lon = match.groups()
    return (int(lat) if ns == "N" else -int(lat)), (int(lon) if ew == "E" else -int(lon))


#: The file stem of a GLO-30 cell; also the Snakemake wildcard constraint of demo cells.
CELL_ID_PATTERN = r"Copernicus_DSM_COG_10_([NS])(\d{2})_00_([EW])(\d{3})_00_DEM"
_CELL_ID = re.compile(CELL_ID_PATTERN)
