"""Writing the Sentinel-1 part of the demo archive: each scene's product folder and item,
and each cell's truth.

Layout, as on AWS (``sentinel-s1-l1c``) with Earth Search's short file names::

    sentinel-s1-l1c/GRD/{y}/{m}/{d}/IW/DV/{product id}/measurement/iw-vv.tiff  (and vh)
        .../annotation/iw-vv.xml                       product annotation (geolocation grid)
        .../annotation/calibration/calibration-iw-vv.xml, noise-iw-vv.xml
        .../annotation/rfi/rfi-iw-vv.xml               IPF 3.40 and later only
        .../manifest.safe, preview/quick-look.png
    stac/sentinel-1-grd/{item id}.json
    demo-truth/sentinel-1-grd/{cell}.tif, {cell}_{year}.json

Every cell is generated on its own (its ground, radar grids and scenes), so memory does not
grow with the distance between a request's tiles.
"""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from demo_archive.geoid import write_geoid
from demo_archive.s1.annotation import geolocation_points, manifest_safe
from demo_archive.s1.ground import cell_fields, seasonal_factor
from demo_archive.s1.items import GENERATOR_VERSION, s1_item
from demo_archive.s1.radar import MARGIN_DEG, Cell, cell_centre, cell_name, cell_of
from demo_archive.s1.render import POLARISATIONS, Simulation, simulate
from demo_archive.s1.scenes import (
    Scene,
    item_id,
    product_id,
    s1_scenes,
    scene_times,
    scenes_in_windows,
    timestamp,
)
from loaders.ard_io import replace_atomically
from loaders.tiles import TILE_HALF_WIDTH_DEG

PRODUCT_FOLDER = "sentinel-s1-l1c/GRD"
ITEM_FOLDER = "stac/sentinel-1-grd"
TRUTH_FOLDER = "demo-truth/sentinel-1-grd"

#: GDAL COG options: 512-pixel tiles and DEFLATE like the real GRD COGs; one thread, since
#: the archive writes one cell per process. GDAL writes no timestamp, so equal pixels give
#: equal bytes.
COG_OPTIONS = {
    "compress": "DEFLATE",
    "blocksize": 512,
    "overviews": "AUTO",
    "overview_resampling": "AVERAGE",
    "num_threads": 1,
}
_TRUTH_OPTIONS = COG_OPTIONS | {"predictor": "FLOATING_POINT", "overviews": "NONE"}


def product_folder(root: Path, scene: Scene) -> Path:
    day = scene_times(scene)[0]
    return root / PRODUCT_FOLDER / f"{day.year}/{day.month}/{day.day}/IW/DV/{product_id(scene)}"


def item_path(root: Path, scene: Scene) -> Path:
    return root / ITEM_FOLDER / f"{item_id(scene)}.json"


def is_current(item: Path) -> bool:
    """Whether the scene of the item file ``item`` is there, made by this generator version
    (an older version's scene is made again: version 1 had no relief displacement, version 2
    wrote longitudes past 180° and heights above the geoid)."""
    if not item.exists():
        return False
    software = json.loads(item.read_text())["properties"].get("processing:software", {})
    return software.get("ttc-ard-demo-archive") == GENERATOR_VERSION


def truth_path(root: Path, cell: Cell) -> Path:
    """The cell's flat-terrain truth: a float32 GeoTIFF (EPSG:4326, band 1 VV, band 2 VH,
    linear gamma0 before season and speckle) on the ~10 m ARD lattice."""
    return root / TRUTH_FOLDER / f"{cell_name(cell)}.tif"


def truth_scenes_path(root: Path, cell: Cell, year: int) -> Path:
    """JSON list of the cell's scenes of the year with their seasonal factor: the expected
    loader output of a scene is the truth times that factor."""
    return root / TRUTH_FOLDER / f"{cell_name(cell)}_{year}.json"


def write_scene(root: str | os.PathLike, scene: Scene) -> Path:
    """Write the scene's product folder, then its item (last: an item means a whole scene).
    Every file is written atomically; the same scene always gives byte-identical files."""
    root = Path(root)
    sim = simulate(scene)
    folder = product_folder(root, scene)
    for name, content in sim.documents.items():
        _write_bytes(folder / "annotation" / name, content)
    for pol in POLARISATIONS:
        _write_measurement(folder / f"measurement/iw-{pol}.tiff", sim, pol)
    _write_bytes(folder / "manifest.safe", manifest_safe(scene))
    _write_quicklook(folder / "preview/quick-look.png", sim)
    path = item_path(root, scene)
    text = json.dumps(s1_item(sim, folder, path), indent=1) + "\n"
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _write_bytes(path: Path, content: bytes) -> None:
    replace_atomically(path, lambda tmp: Path(tmp).write_bytes(content))


def gcps(scene: Scene) -> list[GroundControlPoint]:
    """The TIFF's GCPs: the geolocation grid as is (row = line, col = pixel), as in the real
    measurement files. Annotation coordinates are pixel centres, while GDAL puts whole
    coordinates at pixel corners: a GDAL warp from these GCPs should add 0.5 to row and col,
    or the image lands half a pixel (5 m) off."""
    points = geolocation_points(scene)
    return [
        GroundControlPoint(
            row=float(points["line"][k]),
            col=float(points["pixel"][k]),
            x=float(points["longitude"][k]),
            y=float(points["latitude"][k]),
            z=float(points["height"][k]),
            id=str(k + 1),
        )
        for k in range(len(points["line"]))
    ]


def _write_measurement(path: Path, sim: Simulation, pol: str) -> None:
    profile = {
        "driver": "GTiff",
        "width": sim.grid.samples,
        "height": sim.grid.lines,
        "count": 1,
        "dtype": "uint16",
        "nodata": 0,
        "gcps": gcps(sim.scene),
        "crs": CRS.from_epsg(4326),
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(sim.dn[pol], 1)
        with memory.open() as scratch:
            replace_atomically(
                path, lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **COG_OPTIONS)
            )


def _write_quicklook(path: Path, sim: Simulation) -> None:
    """An 8-bit RGB preview, VV, VH and their ratio, 1/8 of the image, like ESA's."""
    vv, vh = (sim.dn[p][::8, ::8].astype(np.float32) for p in POLARISATIONS)
    ratio = np.divide(vv, vh, out=np.zeros_like(vv), where=vh > 0)
    bands = [
        np.clip(b / np.float32(scale), 0, 255) for b, scale in ((vv, 2), (vh, 1), (ratio * 40, 1))
    ]
    rgb = np.stack(bands).astype(np.uint8)

    def write(tmp: str) -> None:
        # A preview has no georeferencing, which rasterio would warn about.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            _write_png(tmp, rgb)

    replace_atomically(path, write)


def _write_png(tmp: str, rgb: np.ndarray) -> None:
    _, height, width = rgb.shape
    profile = {"driver": "PNG", "width": width, "height": height, "count": 3, "dtype": "uint8"}
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(rgb)


def write_truth(root: str | os.PathLike, cell: Cell) -> Path:
    """Write the cell's flat-terrain truth GeoTIFF (see :func:`truth_path`)."""
    path = truth_path(Path(root), cell)
    fields = cell_fields(cell)
    _, h, w = fields.gamma0.shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 2,
        "dtype": "float32",
        "crs": CRS.from_epsg(4326),
        "transform": fields.transform,
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as scratch:
            scratch.write(fields.gamma0)
            scratch.set_band_description(1, "VV")
            scratch.set_band_description(2, "VH")
        with memory.open() as scratch:
            replace_atomically(
                path,
                lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **_TRUTH_OPTIONS),
            )
    return path


def write_s1_archive(
    archive_root: str | os.PathLike,
    year: int,
    tile_centres: list[tuple[float, float]],
    workers: int = 1,
) -> dict:
    """Write the Sentinel-1 scenes of ``year`` over the cells of the given tile centres
    (lon, lat) that are not there yet, with each cell's truth; one cell per process.

    Only the acquisitions inside the four quarter windows are written (a quarterly composite
    reads no other); :func:`s1_scenes` lists the whole year. The archive's geoid grid
    (:func:`demo_archive.geoid.write_geoid`), which the S1 loader needs, is written first.
    Returns counts and the cells.
    """
    root = Path(archive_root)
    write_geoid(root)
    # Every cell the tile's box reaches beyond a cell's margin: tile centres off the 1/18
    # degree lattice (regional origins of the tile grid) reach into a neighbouring cell.
    reach = TILE_HALF_WIDTH_DEG - MARGIN_DEG
    cells = sorted(
        {
            cell_of(lon + dx, lat + dy)
            for lon, lat in tile_centres
            for dx in (-reach, 0.0, reach)
            for dy in (-reach, 0.0, reach)
        }
    )
    jobs = [(str(root), year, cell) for cell in cells]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
            written = list(pool.map(_write_cell, *zip(*jobs, strict=True)))
    else:
        written = [_write_cell(*job) for job in jobs]
    scenes = sum(len(scenes_in_windows(s1_scenes(year, *cell_centre(c)), year)) for c in cells)
    return {
        "cells": [cell_name(c) for c in cells],
        "scenes": scenes,
        "written": sum(written),
        "skipped": scenes - sum(written),
    }


def _write_cell(root: str, year: int, cell: Cell) -> int:
    """Write the cell's missing scenes of the year and its truth; returns scenes written."""
    archive = Path(root)
    scenes = scenes_in_windows(s1_scenes(year, *cell_centre(cell)), year)
    if not truth_path(archive, cell).exists():
        write_truth(archive, cell)
    listing = truth_scenes_path(archive, cell, year)
    if not listing.exists():
        lat = cell_centre(cell)[1]
        record = [
            {
                "item": item_id(s),
                "datetime": f"{timestamp(s.centre_time)}Z",
                "pass": s.pass_direction,
                "relative_orbit": s.relative_orbit,
                "partial": s.partial,
                "seasonal_factor": seasonal_factor(s.centre_time.date(), lat),
            }
            for s in scenes
        ]
        text = json.dumps(record, indent=1) + "\n"
        replace_atomically(listing, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    todo = [s for s in scenes if not is_current(item_path(archive, s))]
    for scene in todo:
        write_scene(archive, scene)
    return len(todo)
