"""Sentinel-2 L2A sources of a tile: catalogue searches, and reads of item assets onto the tile's
grids. Everything here does I/O; what to keep and how to convert it are :mod:`loaders.s2`'s
pure functions.

Each asset is read through GDAL's warper onto a grid of the tile's own UTM zone, with nearest
resampling: a granule of the same zone lies on the same 20 m lattice, so its pixels arrive
unchanged, and a granule of the neighbouring zone (tiles near a 6° line) or the other hemisphere
(tiles at the equator) is resampled onto it. Only the windows the grids need are read, and the
scene classification (SCL) from the overview nearest the grid's resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pystac
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from shapely.affinity import translate
from shapely.geometry import Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from loaders.errors import TileDataError, read_error
from loaders.reading import READ_THREADS
from loaders.tiles import BBox

COLLECTION = "sentinel-2-l2a"
#: Earth Search asset keys of the contract's bands, in the contract's order.
BANDS_10M = ("blue", "green", "red", "nir")  # B02 B03 B04 B08
BANDS_20M = ("rededge1", "rededge2", "rededge3", "nir08", "swir16", "swir22")  # B05-B07 B8A B11 B12
#: The bands whose dark pixels tell whether DNs carry the +1000 offset (see loaders.s2).
VISIBLE = ("blue", "green", "red")
#: Stage 1 looks at clouds over the tile's centre +- 150/360 degree (about 93 km).
CLOUD_BBOX_HALF_DEG = 150 / 360


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: CRS, upper-left corner, pixel size and shape."""

    crs: str
    west: float
    north: float
    resolution: float
    height: int
    width: int

    @property
    def transform(self) -> Affine:
        return Affine(self.resolution, 0.0, self.west, 0.0, -self.resolution, self.north)

    def coarsened(self, resolution: float) -> Grid:
        """The grid with the same upper-left corner at a coarser ``resolution``, covering at
        least the same area."""
        scale = resolution / self.resolution
        return Grid(
            self.crs,
            self.west,
            self.north,
            resolution,
            math.ceil(self.height / scale),
            math.ceil(self.width / scale),
        )


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the standard UTM zone (WGS84) containing a point: the output CRS of a tile
    is its centre's zone, whichever granules it is read from (the Norway and Svalbard
    exceptions of MGRS are not applied: no tropical tile is affected)."""
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def utm_grid(bbox: BBox, epsg: int, resolution: float, snap: float) -> Grid:
    """The grid of ``resolution`` metres covering ``bbox`` in ``epsg``, its edges on multiples of
    ``snap`` metres. Sentinel-2 granule origins lie on multiples of 20 m, so with ``snap=20``
    the 10 m and 20 m grids of a tile coincide with every same-zone granule's pixels."""
    crs = f"EPSG:{epsg}"
    west, south, east, north = transform_bounds(
        "EPSG:4326", crs, bbox.west, bbox.south, bbox.east, bbox.north, densify_pts=21
    )
    west, south = math.floor(west / snap) * snap, math.floor(south / snap) * snap
    east, north = math.ceil(east / snap) * snap, math.ceil(north / snap) * snap
    return Grid(
        crs,
        west,
        north,
        resolution,
        round((north - south) / resolution),
        round((east - west) / resolution),
    )


@dataclass(frozen=True)
class Acquisition:
    """The items of one solar day over an area, the one covering most of it first."""

    day: date
    items: tuple[pystac.Item, ...]
    #: Share of the area inside the union of the items' footprints.
    coverage: float


def solar_day(moment: datetime, lon: float) -> date:
    """The local solar date of a UTC moment at longitude ``lon``: Sentinel-2 passes at about
    10:30 solar time, so this groups the granules of one overpass, even across the
    antimeridian, where their UTC dates differ."""
    return (moment + timedelta(hours=lon / 15)).date()


def acquisitions(items: Sequence[pystac.Item], area: BBox, lon: float) -> list[Acquisition]:
    """Items grouped by solar day at ``lon``, chronological; within a day by coverage of
    ``area`` (largest first), then id."""
    area_shape = box(area.west, area.south, area.east, area.north)
    by_day: dict[date, list[pystac.Item]] = {}
    for item in items:
        by_day.setdefault(solar_day(item.datetime, lon), []).append(item)
    days = []
    for day in sorted(by_day):
        footprints = {item.id: on_area(shape(item.geometry), area_shape) for item in by_day[day]}
        ranked = sorted(by_day[day], key=lambda item: (-footprints[item.id].area, item.id))
        covered = unary_union(list(footprints.values())).area / area_shape.area
        days.append(Acquisition(day, tuple(ranked), round(min(covered, 1.0), 6)))
    return days


def on_area(footprint: BaseGeometry, area: Polygon) -> BaseGeometry:
    """The part of a footprint inside ``area``, also where the area reaches past the
    antimeridian (footprints there lie near the other end of the longitudes)."""
    west, _, east, _ = area.bounds
    parts = [footprint.intersection(area)]
    if east > 180:
        parts.append(translate(footprint, xoff=360).intersection(area))
    if west < -180:
        parts.append(translate(footprint, xoff=-360).intersection(area))
    return unary_union(parts)


def read_asset(item: pystac.Item, asset: str, grid: Grid) -> np.ndarray:
    """One asset of one item on ``grid`` (nearest), nodata 0 where the file has no pixel.

    A grid coarser than the file is read from the overview closest to it without being
    coarser, so the SCL at 640 m costs a few hundred kilobytes, not the 20 m image."""
    if asset not in item.assets:
        raise TileDataError("bad_data", f"Sentinel-2 item {item.id} has no {asset} asset")
    href = item.assets[asset].get_absolute_href()
    try:
        with rasterio.open(href) as full:
            native = abs(full.transform.a)
            factors = full.overviews(1)
        usable = [f for f in factors if native * f <= grid.resolution * (1 + 1e-9)]
        options = {"OVERVIEW_LEVEL": factors.index(max(usable))} if usable else {}
        with (
            rasterio.open(href, **options) as src,
            WarpedVRT(
                src,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=Resampling.nearest,
                src_nodata=0,
                nodata=0,
            ) as warped,
        ):
            return warped.read(1)
    except RasterioIOError as err:
        raise read_error(f"Sentinel-2 asset {asset} of {item.id}", href, err) from err


def read_mosaic(acquisition: Acquisition, asset: str, grid: Grid) -> np.ndarray:
    """One asset of a solar day on ``grid``: the best-covering item first, the others filling
    only its nodata pixels (overlapping granules of one overpass hold the same pixels)."""
    mosaic = None
    for item in acquisition.items:
        layer = read_asset(item, asset, grid)
        if mosaic is None:
            mosaic = layer
        else:
            gaps = mosaic == 0
            mosaic[gaps] = layer[gaps]
        if mosaic.all():
            break
    return mosaic


def read_mosaics(
    days: Sequence[Acquisition], asset: str, grid: Grid, threads: int = READ_THREADS
) -> np.ndarray:
    """``(days, height, width)``: :func:`read_mosaic` of every day, read in threads."""
    with ThreadPoolExecutor(threads) as pool:
        layers = list(pool.map(lambda day: read_mosaic(day, asset, grid), days))
    if not layers:
        return np.zeros((0, grid.height, grid.width), np.uint8)
    return np.stack(layers)
