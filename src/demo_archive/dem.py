"""Demo archive, DEM part: Copernicus GLO-30-shaped COGs and STAC items of synthetic terrain.

A cell is laid out as in the real archive: ``copernicus-dem-30m/<id>/<id>.tif``, with its item at
``stac/cop-dem-glo-30/<id>.json`` (the workflow rule decides the paths; the item refers to the
COG by a path relative to itself, so the archive can be moved).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile

from demo_archive.terrain import elevation
from loaders.ard_io import replace_atomically
from loaders.copdem import CELL_ROWS, cell_columns, cell_id, cell_transform

#: Version of the generator, recorded in each item: bump it when the terrain or layout changes.
GENERATOR_VERSION = "2"

#: GDAL COG driver options: 1024-pixel tiles, DEFLATE and three overviews (1800, 900 and 450
#: columns at the equator), as in the public GLO-30 bucket; the floating-point predictor packs
#: better. One thread: the workflow already runs one cell per core. GDAL writes no timestamp
#: into a GeoTIFF unless asked (TIFFTAG_DATETIME), so equal pixels give equal bytes.
COG_OPTIONS = {
    "compress": "DEFLATE",
    "predictor": "FLOATING_POINT",
    "blocksize": 1024,
    "overviews": "AUTO",
    "overview_count": 3,
    "overview_resampling": "AVERAGE",
    "num_threads": 1,
}


#: Elevations are stored rounded to this many metres (a power of two, so exact in float32).
#: The terrain's last mantissa bits are noise that DEFLATE cannot pack: rounding them away makes
#: a cell 40 % smaller, and 8 mm is far below anything the slope can show.
ELEVATION_QUANTUM_M = 1 / 128


#: Earth Search item properties that demo items leave out: the files are not in cloud storage,
#: no Earth Search workflow made them, and creation times would make the items differ per run.
OMITTED_PROPERTIES = frozenset(
    {"storage:platform", "storage:region", "earthsearch:payload_id", "created", "updated"}
)


def cell_elevation(lat_floor: int, lon_floor: int) -> np.ndarray:
    """The cell's (3600, columns) float32 elevation at its pixel centres (whole arc-seconds in
    latitude, whole column steps in longitude, from the cell's north-west corner), rounded to
    :data:`ELEVATION_QUANTUM_M`."""
    columns = cell_columns(lat_floor)
    lons = lon_floor + np.arange(columns) / columns
    lats = lat_floor + 1 - np.arange(CELL_ROWS) / CELL_ROWS
    z = elevation(lons[None, :], lats[:, None])
    z *= np.float32(1 / ELEVATION_QUANTUM_M)  # in place: a cell is 52 MB
    np.round(z, out=z)
    z *= np.float32(ELEVATION_QUANTUM_M)
    return z


def write_dem_cell(
    lat_floor: int, lon_floor: int, tif_path: str | os.PathLike, item_path: str | os.PathLike
) -> None:
    """Write the cell's COG and its Earth Search ``cop-dem-glo-30``-shaped STAC item.

    Each file is written under a temporary name next to it and renamed into place, the COG
    first, so a killed run leaves no file that passes as complete. The same cell always gives
    byte-identical files.
    """
    tif_path, item_path = Path(tif_path), Path(item_path)
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
            # GLO-30 pixels are point samples; GDAL keeps the geotransform as given.
            scratch.update_tags(AREA_OR_POINT="Point")
        with memory.open() as scratch:
            replace_atomically(
                tif_path,
                lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **COG_OPTIONS),
            )
    href = Path(os.path.relpath(tif_path.resolve(), item_path.resolve().parent)).as_posix()
    text = json.dumps(dem_item(lat_floor, lon_floor, href), indent=1) + "\n"
    replace_atomically(item_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def dem_item(lat_floor: int, lon_floor: int, href: str) -> dict:
    """The STAC item of a cell, with the keys and key order of Earth Search v1's
    ``cop-dem-glo-30`` items. ``href`` locates the COG (relative to the item file, or absolute).

    The properties in :data:`OMITTED_PROPERTIES` are left out, and no link points to Earth
    Search: the one link names a collection file next to the items.
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
            "processing:software": {"ttc-ard-demo-archive": GENERATOR_VERSION},
        },
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[east, south], [east, north], [west, north], [west, south], [east, south]]
            ],
        },
        "links": [{"rel": "collection", "type": "application/json", "href": "./collection.json"}],
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
