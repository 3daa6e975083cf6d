"""Sentinel-2 L2A sources of a tile: catalogue searches, the tile's grids, and reads of item
assets onto them. What to keep and how to convert it are :mod:`loaders.s2`'s pure functions.

Each asset is read through GDAL's warper onto a grid of the tile's own UTM zone, with nearest
resampling: a granule of the same zone lies on the same 20 m lattice, so its pixels arrive
unchanged, and a granule of the neighbouring zone (tiles near a 6° line) or the other hemisphere
(tiles at the equator) is resampled onto it. Only the windows the grids need are read, and the
scene classification (SCL) from the overview nearest the grid's resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pystac
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError, WindowError
from rasterio.io import DatasetReader
from rasterio.transform import array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds
from shapely.affinity import translate
from shapely.geometry import Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from loaders import accounting, s2
from loaders.catalog import search
from loaders.errors import TileDataError, read_error
from loaders.grid import Grid, tile_grid, utm_epsg, utm_grid
from loaders.reading import READ_THREADS, gdal_path, object_url, read_pool
from loaders.spec import Catalog
from loaders.tiles import BBox, Tile

COLLECTION = "sentinel-2-l2a"
#: Stage 1 considers only items under this ``eo:cloud_cover`` (per cent of the granule).
MAX_ITEM_CLOUD_COVER = 50
#: Resolutions of the grids, metres, besides the 10 m and 20 m bands: stage-1 clouds, and the
#: cirrus mask and stage-2 cloud check.
CLOUD_GRID_RES, MASK_GRID_RES = 640, 160
ONE_DAY = timedelta(days=1)


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
    href = object_url(item.assets[asset].get_absolute_href())
    path = gdal_path(href)
    try:
        with accounting.reading(), rasterio.open(path) as full:
            level = overview_level(abs(full.transform.a), full.overviews(1), grid.resolution)
            if level is None:  # the file itself: read it through this opening
                return on_grid(full, grid, href, level)
        with accounting.reading(), rasterio.open(path, OVERVIEW_LEVEL=level) as overview:
            return on_grid(overview, grid, href, level)
    except RasterioIOError as err:
        raise read_error(f"Sentinel-2 asset {asset} of {item.id}", href, err) from err


def overview_level(native: float, factors: list[int], resolution: float) -> int | None:
    """GDAL's ``OVERVIEW_LEVEL`` of the overview closest to ``resolution`` without being
    coarser, for a file of pixel size ``native`` with overviews ``factors``; None when no
    overview qualifies (the file itself is read)."""
    usable = [f for f in factors if native * f <= resolution * (1 + 1e-9)]
    return factors.index(max(usable)) if usable else None


def on_grid(src: DatasetReader, grid: Grid, href: str, level: int | None) -> np.ndarray:
    """``src`` (the file at ``href``, or its overview ``level``) on ``grid``, nearest; the
    window read is noted in the job's reads under ``href``."""
    with WarpedVRT(
        src,
        crs=grid.crs,
        transform=grid.transform,
        width=grid.width,
        height=grid.height,
        resampling=Resampling.nearest,
        src_nodata=0,
        nodata=0,
    ) as warped:
        accounting.note_window(href, level, source_window(src, grid))
        return warped.read(1)


def source_window(src: DatasetReader, grid: Grid) -> Window:
    """The window of ``src`` that ``grid`` covers, within the file."""
    bounds = array_bounds(grid.height, grid.width, grid.transform)
    covered = from_bounds(*transform_bounds(grid.crs, src.crs, *bounds), src.transform)
    try:
        return covered.intersection(Window(0, 0, src.width, src.height))
    except WindowError:  # the grid misses the file: nothing of it is needed
        return Window(0, 0, 0, 0)


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
    with read_pool(threads) as pool:
        layers = list(pool.map(lambda day: read_mosaic(day, asset, grid), days))
    if not layers:
        return np.zeros((0, grid.height, grid.width), np.uint8)
    return np.stack(layers)


@dataclass(frozen=True)
class TileGrids:
    """The grids of one tile's outputs, all in the UTM zone of the tile's centre."""

    bands_10m: Grid
    bands_20m: Grid
    cirrus: Grid
    clouds: Grid


def tile_grids(tile: Tile) -> TileGrids:
    ten = tile_grid(tile)
    epsg = utm_epsg(tile.lon, tile.lat)
    clouds = utm_grid(s2.tile_cloud_bbox(tile), epsg, CLOUD_GRID_RES, snap=CLOUD_GRID_RES)
    return TileGrids(ten, ten.coarsened(20), ten.coarsened(MASK_GRID_RES), clouds)


def year_days(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def cloud_candidates(catalog: Catalog, tile: Tile) -> list[pystac.Item]:
    """The items whose clouds decide the clean days: over the tile's cloud bbox, of its year's
    solar days, less cloudy than :data:`MAX_ITEM_CLOUD_COVER`; :class:`TileDataError`
    ``no_data`` if there is none."""
    first, last = year_days(tile.year)
    # A day more on each side, then the solar days of the year: an overpass's UTC date is not
    # its local one near the antimeridian.
    found = search(
        catalog,
        COLLECTION,
        s2.tile_cloud_bbox(tile),
        f"{first - ONE_DAY}/{last + ONE_DAY}",
        {"eo:cloud_cover": {"lt": MAX_ITEM_CLOUD_COVER}},
    )
    candidates = [item for item in found if first <= solar_day(item.datetime, tile.lon) <= last]
    if not candidates:
        raise TileDataError(
            "no_data",
            f"no Sentinel-2 scene in {tile.year} over {tile.tag} with less than "
            f"{MAX_ITEM_CLOUD_COVER} % cloud cover in {catalog.url or catalog.path}.",
        )
    return candidates


def tile_acquisitions(catalog: Catalog, tile: Tile) -> list[Acquisition]:
    """The solar days with scenes over the tile itself, any cloud cover, from the year's clean
    days' reach (:data:`loaders.s2.MAX_SCENE_DAY_DISTANCE` around the year)."""
    first, last = year_days(tile.year)
    margin = timedelta(days=s2.MAX_SCENE_DAY_DISTANCE)
    found = search(catalog, COLLECTION, tile.bbox, f"{first - margin}/{last + margin}")
    return acquisitions(found, tile.bbox, tile.lon)


def item_offset(item: pystac.Item, visible_dn: np.ndarray) -> s2.OffsetDecision:
    """How many DNs to subtract from the item's pixels: its metadata checked by its pixels
    (``visible_dn`` holds the visible bands' DNs of clear land, 0 elsewhere: water, which
    Sen2Cor can make darker than the offset, would otherwise read as "no offset")."""
    try:
        bands = item.assets["red"].extra_fields.get("raster:bands") or [{}]
        baseline_text = item.properties.get("s2:processing_baseline")
        baseline = s2.baseline_offset_dn(baseline_text) if baseline_text else None
        # What raster:bands declare; an item without them (not Earth Search v1) declares what
        # its baseline implies, and one without a baseline either declares nothing.
        if "offset" in bands[0]:
            declared = s2.declared_offset_dn(
                bands[0].get("scale", s2.EXPECTED_SCALE), bands[0]["offset"]
            )
        else:
            declared = baseline if baseline is not None else 0
    except ValueError as err:
        raise TileDataError("bad_data", f"Sentinel-2 item {item.id}: {err}") from err
    # Without a baseline there is nothing to cross-check the declaration against.
    return s2.decide_offset(
        declared, declared if baseline is None else baseline, s2.pixel_offset_evidence(visible_dn)
    )


@dataclass(frozen=True)
class SceneBands:
    """Reflectance of the kept days on the tile's grids, and how each item was harmonised."""

    bands_10m: np.ndarray
    bands_20m: np.ndarray
    valid: np.ndarray
    offsets: list[dict]


def read_scene_bands(
    days: Sequence[Acquisition], grids: TileGrids, scl_cirrus_grid: np.ndarray
) -> SceneBands:
    """Every band of every day on the tile's grids, each item harmonised on its own (one day's
    granules may differ), the best-covering item first and the others filling its gaps.
    ``scl_cirrus_grid`` is each day's SCL on the 160 m grid: its clear land decides which
    pixels testify about the offset."""
    shape_10m, shape_20m = (
        (grids.bands_10m.height, grids.bands_10m.width),
        (grids.bands_20m.height, grids.bands_20m.width),
    )
    bands_10m = np.zeros((len(days), *shape_10m, len(s2.BANDS_10M)), np.uint16)
    bands_20m = np.zeros((len(days), *shape_20m, len(s2.BANDS_20M)), np.uint16)
    valid = np.zeros((len(days), *shape_10m), bool)
    scale = round(grids.cirrus.resolution / grids.bands_10m.resolution)
    land = np.isin(scl_cirrus_grid, s2.CLEAR_LAND_SCL_CLASSES).repeat(scale, 1).repeat(scale, 2)
    land = land[:, : shape_10m[0], : shape_10m[1]]

    # Days are worked on in threads of their own, which hand every read to one pool: an item's
    # ten band files are then fetched together, up to READ_THREADS at once, where a day's
    # thread read them one after the other.
    with read_pool() as reads, ThreadPoolExecutor(READ_THREADS) as workers:

        def read_item(item: pystac.Item) -> tuple[list[np.ndarray], list[np.ndarray]]:
            dn_10m = [reads.submit(read_asset, item, b, grids.bands_10m) for b in s2.BANDS_10M]
            dn_20m = [reads.submit(read_asset, item, b, grids.bands_20m) for b in s2.BANDS_20M]
            return [read.result() for read in dn_10m], [read.result() for read in dn_20m]

        def read_day(index: int) -> list[dict]:
            decisions = []
            valid_20m = np.zeros(shape_20m, bool)
            for item in days[index].items:
                dn_10m, dn_20m = read_item(item)
                visible = np.stack([dn_10m[s2.BANDS_10M.index(b)] for b in s2.VISIBLE])
                decision = item_offset(item, np.where(land[index], visible, 0).astype(np.uint16))
                decisions.append(
                    {"date": days[index].day.isoformat(), "item": item.id} | asdict(decision)
                )
                fill_gaps(bands_10m[index], valid[index], dn_10m, decision.offset_dn)
                fill_gaps(bands_20m[index], valid_20m, dn_20m, decision.offset_dn)
                if valid[index].all() and valid_20m.all():
                    break
            return decisions

        days_offsets = workers.map(read_day, range(len(days)))
        offsets = [decision for day in days_offsets for decision in day]
    return SceneBands(bands_10m, bands_20m, valid, offsets)


def fill_gaps(
    reflectance: np.ndarray, valid: np.ndarray, dns: list[np.ndarray], offset_dn: int
) -> None:
    """Encode into ``reflectance`` (h, w, bands) the pixels of ``dns`` (one (h, w) array per
    band) that ``valid`` lacks, and mark them valid. A pixel counts where every band has it:
    nodata borders differ between bands."""
    fill = np.logical_and.reduce([dn != 0 for dn in dns]) & ~valid
    for b, dn in enumerate(dns):
        reflectance[..., b][fill] = s2.reflectance_u16(dn[fill], offset_dn)
    valid |= fill
