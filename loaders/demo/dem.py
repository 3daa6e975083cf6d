"""Demo archive, DEM part: Copernicus GLO-30-shaped COGs and STAC items of synthetic terrain."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile

from loaders.ard_io import replace_atomically
from loaders.copdem import CELL_ROWS, cell_columns, cell_id, cell_transform
from loaders.demo.terrain import elevation

#: Rows evaluated at once: bounds the memory of the terrain function (~0.3 GB per block).
_ROWS_PER_BLOCK = 600
_COG_OPTIONS = {
    "compress": "DEFLATE",
    "predictor": "FLOATING_POINT",
    "blocksize": 1024,
    "overviews": "AUTO",
    "resampling": "AVERAGE",
}


def cell_elevation(lat_floor: int, lon_floor: int) -> np.ndarray:
    """The cell's (3600, columns) float32 elevation, sampled at its pixel centres."""
    columns = cell_columns(lat_floor)
    lons = lon_floor + np.arange(columns)[None, :] / columns
    lats = lat_floor + 1 - np.arange(CELL_ROWS)[:, None] / CELL_ROWS
    return np.concatenate(
        [
            elevation(lons, lats[i : i + _ROWS_PER_BLOCK])
            for i in range(0, CELL_ROWS, _ROWS_PER_BLOCK)
        ]
    )


def write_dem_cell(
    lat_floor: int, lon_floor: int, tif_path: str | os.PathLike, item_path: str | os.PathLike
) -> None:
    """Write the cell's COG and its Earth Search ``cop-dem-glo-30``-shaped STAC item.

    Both files are written under temporary names and renamed into place; the same cell always
    gives byte-identical files.
    """
    profile = {
        "driver": "GTiff",
        "width": cell_columns(lat_floor),
        "height": CELL_ROWS,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": cell_transform(lat_floor, lon_floor),
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(cell_elevation(lat_floor, lon_floor), 1)
        with memory.open() as scratch:
            replace_atomically(
                tif_path,
                lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **_COG_OPTIONS),
            )
    item = dem_item(lat_floor, lon_floor, os.path.relpath(tif_path, Path(item_path).parent))
    replace_atomically(
        item_path, lambda tmp: Path(tmp).write_text(json.dumps(item, indent=1) + "\n")
    )


def dem_item(lat_floor: int, lon_floor: int, href: str) -> dict:
    """The STAC item of a cell, shaped like Earth Search v1's ``cop-dem-glo-30`` items.

    ``href`` is the COG's path relative to the item file; links stay offline.
    """
    name = cell_id(lat_floor, lon_floor)
    transform = cell_transform(lat_floor, lon_floor)
    columns = cell_columns(lat_floor)
    west, north = transform.c, transform.f
    east, south = west + columns * transform.a, north + CELL_ROWS * transform.e
    ns, ew = ("N" if lat_floor >= 0 else "S"), ("E" if lon_floor >= 0 else "W")
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": name,
        "properties": {
            "platform": "tandem-x",
            "gsd": 30,
            "proj:epsg": 4326,
            "proj:transform": list(transform)[:6],
            "proj:shape": [CELL_ROWS, columns],
            "proj:centroid": {"lat": lat_floor + 0.5, "lon": lon_floor + 0.5},
            "grid:code": f"CDEM-{ns}{abs(lat_floor):02d}{ew}{abs(lon_floor):03d}",
            "storage:requester_pays": False,
            "datetime": "2021-04-22T00:00:00Z",
            "processing:software": {"ttc-ard-demo-archive": "1"},
        },
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[east, south], [east, north], [west, north], [west, south], [east, south]]
            ],
        },
        "links": [{"rel": "collection", "href": "../collection.json", "type": "application/json"}],
        "assets": {
            "data": {
                "href": href,
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "title": "Data",
                "raster:bands": [
                    {
                        "sampling": "point",
                        "data_type": "float32",
                        "spatial_resolution": 30,
                        "unit": "meter",
                    }
                ],
                "roles": ["data"],
            }
        },
        "bbox": [west, south, east, north],
        "stac_extensions": [
            "https://stac-extensions.github.io/storage/v1.0.0/schema.json",
            "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
        ],
        "collection": "cop-dem-glo-30",
    }
