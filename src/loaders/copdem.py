"""Names and pixel grids of the Copernicus DEM GLO-30 cells (1 x 1 degree COGs).

The cell grid's own facts (rows, columns, which cells cover a box) are the DEM core's
(:mod:`loaders.dem`), which must not need affine; they are re-exported here.
"""

from __future__ import annotations

import re

from affine import Affine

from loaders.dem import CELL_ROWS, cell_columns, cells_covering

__all__ = [
    "CELL_ID_PATTERN",
    "CELL_ROWS",
    "cell_columns",
    "cell_id",
    "cell_transform",
    "cells_covering",
    "parse_cell_id",
]


def cell_id(lat_floor: int, lon_floor: int) -> str:
    """The file stem of the cell whose south-west corner is (lat_floor, lon_floor); the
    longitude is taken round the globe, so that the cells past 180° east of a tile's grid
    astride it are those from 180° west.

    >>> cell_id(6, -2)
    'Copernicus_DSM_COG_10_N06_00_W002_00_DEM'
    >>> cell_id(-17, 180)
    'Copernicus_DSM_COG_10_S17_00_W180_00_DEM'
    """
    lon_floor = (lon_floor + 180) % 360 - 180
    ns = "N" if lat_floor >= 0 else "S"
    ew = "E" if lon_floor >= 0 else "W"
    return f"Copernicus_DSM_COG_10_{ns}{abs(lat_floor):02d}_00_{ew}{abs(lon_floor):03d}_00_DEM"


def cell_transform(lat_floor: int, lon_floor: int) -> Affine:
    """The cell's geotransform. Pixels are point samples at whole arc-seconds, so the grid's
    outer edge lies half a pixel outside the cell's corner."""
    x_res = 1 / cell_columns(lat_floor)
    y_res = 1 / CELL_ROWS
    return Affine(x_res, 0.0, lon_floor - x_res / 2, 0.0, -y_res, lat_floor + 1 + y_res / 2)


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
