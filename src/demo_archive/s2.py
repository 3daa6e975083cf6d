"""Demo archive, Sentinel-2 part: Earth Search v1 ``sentinel-2-l2a``-shaped items and COGs.

Scenes follow a simple but self-consistent orbit model: 143 relative orbits flown in a 10-day
cycle, descending at 10:30 local solar time, Sentinel-2B on the same tracks five days after
2A (from 2017), each swath 290 km wide with edges that are lines of slightly tilted longitude.
Adjacent swaths overlap, so some granules are seen by two orbits, and a granule crossed by a
swath edge gets a partial footprint with nodata (0) outside it in every file.

Pixels come from :mod:`demo_archive.weather` (functions of date, lon and lat only), sampled
per 160 m cell of a global UTM lattice at the cell's nearest weather lattice node: granules of
one zone seen on one day agree pixel for pixel where they overlap, and the files pack small.
Files cover only what the tiles need: SCL the union of the tiles' cloud boxes, bands the
union of the tile boxes plus :data:`BAND_MARGIN_M`, each a window of the granule grid aligned
to 640 m from the granule origin, clipped to the granule. Items declare each file's own shape
and transform. Granules that no tile box touches get SCL only, and their items list only it.

Granules near each other are generated together, one weather lattice per group, and groups far
apart (tiles on two continents) each on their own: memory follows the number of granules, not
the span of the request. Footprints of granules across the antimeridian run on past 180
degrees while generating; their items split them there, as Earth Search does.

Layout under the archive root (``m`` is the month without a leading zero, as Earth Search):

- ``sentinel-cogs/sentinel-s2-l2a-cogs/{zone}/{band}/{square}/{yyyy}/{m}/{id}/{B02..SCL}.tif``
- ``stac/sentinel-2-l2a/{id}.json``, the items, with hrefs relative to themselves;
- ``demo-truth/sentinel-2-l2a/{id}.json``, what the pixels really are (for tests only);
- ``demo-coverage/sentinel-2-l2a/{year}/{granule}.json``, the tiles a granule-year covers.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from affine import Affine
from shapely.geometry import Polygon, box
from shapely.geometry.polygon import orient

from demo_archive import weather
from demo_archive.geojson import geojson_outline
from demo_archive.mgrs import (
    GRANULE_SIZE_M,
    Granule,
    central_meridian,
    footprint,
    granules_intersecting,
    to_lonlat,
    to_utm,
    unwrap_lon,
    utm_outline,
)
from demo_archive.terrain import uniform
from loaders.ard_io import replace_atomically, write_json
from loaders.tiles import BBox, tile_bbox

#: Version of the generator, recorded in each item: bump it when scenes, pixels or layout change
#: (coverage records of another version count as covering nothing).
GENERATOR_VERSION = "1"
COLLECTION = "sentinel-2-l2a"
#: The area whose clouds the loader weighs: a tile's centre +- 150/360 degree.
CLOUD_BBOX_HALF_DEG = 150 / 360
#: Band files reach this far beyond the tile boxes.
BAND_MARGIN_M = 500
#: File windows are aligned to this step from the granule origin (the SCL's coarsest overview).
WINDOW_STEP_M = 640
#: Pixels take their values per cell of this global UTM lattice (a multiple of 20 m).
CELL_M = 160
SCL_RESOLUTION = 20

#: Earth Search item properties the demo leaves out: creation times and payload ids would make
#: items differ per run, and the files are in no S3 bucket.
OMITTED_PROPERTIES = frozenset(
    {"created", "updated", "earthsearch:payload_id", "earthsearch:s3_path"}
)


@dataclass(frozen=True)
class Band:
    """A reflectance band as Earth Search describes it (file name, asset key, eo:bands)."""

    file: str
    key: str
    resolution: int
    common_name: str
    description: str
    center_wavelength: float
    full_width_half_max: float

    @property
    def title(self) -> str:
        return f"{self.description} - {self.resolution}m"


#: The bands in the order of :data:`demo_archive.weather.BAND_ORDER`.
BANDS = (
    Band("B02", "blue", 10, "blue", "Blue (band 2)", 0.49, 0.098),
    Band("B03", "green", 10, "green", "Green (band 3)", 0.56, 0.045),
    Band("B04", "red", 10, "red", "Red (band 4)", 0.665, 0.038),
    Band("B08", "nir", 10, "nir", "NIR 1 (band 8)", 0.842, 0.145),
    Band("B05", "rededge1", 20, "rededge", "Red edge 1 (band 5)", 0.704, 0.019),
    Band("B06", "rededge2", 20, "rededge", "Red edge 2 (band 6)", 0.74, 0.018),
    Band("B07", "rededge3", 20, "rededge", "Red edge 3 (band 7)", 0.783, 0.028),
    Band("B8A", "nir08", 20, "nir08", "NIR 2 (band 8A)", 0.865, 0.033),
    Band("B11", "swir16", 20, "swir16", "SWIR 1 (band 11)", 1.61, 0.143),
    Band("B12", "swir22", 20, "swir22", "SWIR 2 (band 12)", 2.19, 0.242),
)
#: Earth Search COG assets the demo leaves out: the 60 m bands, aerosol and water vapour, and
#: the true-colour image.
_OMITTED_COGS = frozenset({"aot", "coastal", "nir09", "wvp", "visual"})
#: Every Earth Search asset the demo leaves out: the COGs above, metadata files, the thumbnail,
#: the 2025 cloud and snow probabilities, and every JPEG 2000 twin.
OMITTED_ASSETS = (
    _OMITTED_COGS
    | {"granule_metadata", "tileinfo_metadata", "product_metadata", "thumbnail", "cloud", "snow"}
    | {f"{key}-jp2" for key in _OMITTED_COGS | {band.key for band in BANDS} | {"scl"}}
)

#: Processing baselines by first day of use (approximately as ESA switched them).
BASELINES = (
    (date(2015, 1, 1), "02.04"),
    (date(2018, 5, 23), "02.07"),
    (date(2018, 11, 6), "02.10"),
    (date(2019, 7, 8), "02.13"),
    (date(2020, 1, 28), "02.14"),
    (date(2021, 3, 30), "03.00"),
    (date(2021, 6, 30), "03.01"),
    (date(2022, 1, 25), "04.00"),
    (date(2022, 12, 6), "05.09"),
    (date(2023, 12, 13), "05.10"),
    (date(2024, 7, 23), "05.11"),
)
#: From baseline 04.00 L2A pixels carry BOA_ADD_OFFSET = -1000: DN = reflectance * 1e4 + 1000.
OFFSET_BASELINE = "04.00"
OFFSET_DN = 1000
#: Scenes per granule of 2022 whose metadata contradicts their pixels, as users reported.
MISLABELLED_PER_GRANULE = 3
#: A mislabelled scene's pixels carry the offset but its metadata denies it, or the reverse.
OFFSET_NOT_DECLARED, OFFSET_NOT_APPLIED = "offset-not-declared", "offset-not-applied"
#: Sky classes that hide the ground, for choosing clear scenes.
_CLOUDY_SKY = (weather.CLOUD_SHADOW, *weather.CLOUD_CLASSES, weather.THIN_CIRRUS)

CYCLE_S = 10 * 86_400
ORBITS_PER_CYCLE = 143
ORBIT_S = CYCLE_S / ORBITS_PER_CYCLE
#: Sentinel-2A crossed the equator on relative orbit 141 (absolute 43324) at this time; it puts
#: the real 13TDE (2023, R141) and 28QCH (2020, R123) scenes on their own days and orbits.
_S2A_NODE = datetime(2023, 10, 8, 18, 10, tzinfo=UTC)
_S2A_NODE_ORBIT, _S2A_NODE_ABSOLUTE = 141, 43_324
#: Sentinel-2B flies the same tracks half a cycle later; it joined in 2017.
_S2B_DELAY = timedelta(days=5)
_S2B_NODE_ABSOLUTE, _S2B_FIRST_YEAR = 34_415, 2017
HALF_SWATH_M = 145_000
#: The descending ground track drifts west going south: degrees of longitude per degree.
TRACK_TILT = 0.22
#: Swath edges are sampled at this latitude step (a global lattice, so that granules of one
#: zone interpolate the same edge).
_EDGE_STEP_DEG = 0.1
#: A swath covering less of a granule than this makes no scene.
MIN_FOOTPRINT_SHARE = 0.01
#: Lattice step (in weather lattice nodes) of the coarse grid item statistics are taken on.
_STATISTICS_STEP = 18

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
#: GDAL COG driver options (see demo_archive.dem). 512-pixel blocks: the files are windows,
#: smaller than a granule, and write a fifth faster than with 1024. SCL overviews reach 640 m,
#: where the loader weighs clouds; band files have none: they would make them four times slower
#: to write, and the loader reads bands at full resolution. Blocks that are all nodata (outside
#: the swath) are left out of the file, which GDAL allows in a COG and reads back as nodata.
#: SCL files, the bulk of the work, are compressed at level 3: a quarter faster than the
#: default 6, for files still under 2 MB. No timestamp is written, so equal pixels give equal
#: bytes.
_SCL_COG = {
    "compress": "DEFLATE",
    "level": 3,
    "sparse_ok": True,
    "blocksize": 512,
    "overviews": "AUTO",
    "overview_count": 5,
    "overview_resampling": "NEAREST",
    "num_threads": 1,
}
_BAND_COG = {
    "compress": "DEFLATE",
    "sparse_ok": True,
    "predictor": 2,
    "blocksize": 512,
    "overviews": "NONE",
    "num_threads": 1,
}
_METRES_PER_DEG = 111_320.0


# --- Scenes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """One acquisition of one granule: who took it when, on which track, where it has data,
    and whether its metadata tells the truth about the pixels."""

    granule: Granule
    platform: str
    relative_orbit: int
    absolute_orbit: int
    datetime: datetime
    #: Longitude at which this orbit's track crosses the equator, unwrapped near the granule.
    node_lon: float
    footprint: Polygon = field(compare=False)
    #: Share of the granule the footprint covers (1 when the swath holds the whole granule).
    share: float
    metadata_error: str | None = None

    @property
    def id(self) -> str:
        return f"S2{self.platform[-1].upper()}_{self.granule.id}_{self.datetime:%Y%m%d}_0_L2A"

    @property
    def baseline(self) -> str:
        """The processing baseline the pixels were made with."""
        return processing_baseline(self.datetime.date())

    @property
    def pixel_offset_dn(self) -> int:
        if self.metadata_error == OFFSET_NOT_APPLIED or self.baseline < OFFSET_BASELINE:
            return 0
        return OFFSET_DN

    @property
    def declared_baseline(self) -> str:
        """The baseline the item states: an older one when it hides the offset."""
        return "03.01" if self.metadata_error == OFFSET_NOT_DECLARED else self.baseline

    @property
    def declares_offset(self) -> bool:
        return self.declared_baseline >= OFFSET_BASELINE


def processing_baseline(day: date) -> str:
    """The baseline of L2A products acquired on ``day`` (the first one before 2015)."""
    current = BASELINES[0][1]
    for start, baseline in BASELINES:
        if day >= start:
            current = baseline
    return current


def granule_scenes(granule: Granule, year: int) -> list[Scene]:
    """Every scene of ``granule`` acquired in ``year``, in time order: ~5 days apart,
    alternating 2A and 2B (10 days, 2A only, before 2017), more where swaths overlap."""
    outline = footprint(granule)
    centre = outline.centroid
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    platforms = [("sentinel-2a", _S2A_NODE, _S2A_NODE_ABSOLUTE)]
    if year >= _S2B_FIRST_YEAR:
        platforms.append(("sentinel-2b", _S2A_NODE + _S2B_DELAY, _S2B_NODE_ABSOLUTE))
    # Tracks whose swath can reach the granule: within half a swath and half a diagonal.
    coslat = math.cos(math.radians(centre.y))
    reach = (HALF_SWATH_M + GRANULE_SIZE_M * 0.75) / (_METRES_PER_DEG * coslat)
    scenes = []
    for platform, node, absolute in platforms:
        first = math.floor((start - node).total_seconds() / ORBIT_S) - 1
        last = math.ceil((end - node).total_seconds() / ORBIT_S) + 1
        orbits = np.arange(first, last + 1)
        seconds = orbits * ORBIT_S
        day_seconds = node.hour * 3600 + node.minute * 60 + node.second
        node_lon = 15 * (weather.LOCAL_TIME_H - ((day_seconds + seconds) % 86_400) / 3600)
        offset = (node_lon + TRACK_TILT * centre.y - centre.x + 180) % 360 - 180
        for k in np.flatnonzero(np.abs(offset) < reach):
            # Descending: the satellite passes the granule's latitude before the equator.
            moment = node + timedelta(seconds=float(seconds[k]) - centre.y / 360 * ORBIT_S)
            track = centre.x + float(offset[k]) - TRACK_TILT * centre.y
            swath = _swath(track, outline)
            if not start <= moment < end or not swath.intersects(outline):
                continue
            seen = outline if swath.contains(outline) else orient(outline.intersection(swath))
            share = seen.area / outline.area
            if share < MIN_FOOTPRINT_SHARE:
                continue
            orbit = int(orbits[k])
            relative = (_S2A_NODE_ORBIT - 1 + orbit) % ORBITS_PER_CYCLE + 1
            scenes.append(
                Scene(granule, platform, relative, absolute + orbit, moment, track, seen, share)
            )
    return _mislabel(sorted(scenes, key=_time))


def _mislabel(scenes: list[Scene]) -> list[Scene]:
    """Give a few 2022 scenes metadata that disagrees with their pixels, alternately hiding an
    offset the pixels have and claiming one they lack. They are the clearest scenes (in
    different months, ties broken by a hash of granule and day) of the orbit that sees most
    of the granule: the scenes a loader is likely to pick, so that the demo exercises its
    checks."""
    candidates = [
        scene
        for scene in scenes
        if scene.datetime.year == 2022 and scene.baseline >= OFFSET_BASELINE
    ]
    if not candidates:
        return scenes
    widest = max(scene.share for scene in candidates)
    candidates = [scene for scene in candidates if scene.share == widest]
    lon, lat = coarse_grid([candidates[0].granule])
    granule_hash = zlib.crc32(candidates[0].granule.id.encode())
    days = np.array([scene.datetime.date().toordinal() for scene in candidates])
    tie_break = uniform(np.full(days.shape, granule_hash), days, salt=2022)

    def cloudiness(scene: Scene) -> float:
        scl = weather.sky(scene.datetime.date(), lon, lat).scl
        inside = shapely.contains_xy(scene.footprint, lon[None, :], lat[:, None])
        return round(float(np.isin(scl[inside], _CLOUDY_SKY).mean()), 2)

    order = sorted(range(len(candidates)), key=lambda k: (cloudiness(candidates[k]), tie_break[k]))
    chosen: dict[int, Scene] = {}  # by month
    for k in order:
        chosen.setdefault(candidates[k].datetime.month, candidates[k])
        if len(chosen) == MISLABELLED_PER_GRANULE:
            break
    kinds = (OFFSET_NOT_DECLARED, OFFSET_NOT_APPLIED)
    wrong = {scene.id: kinds[n % 2] for n, scene in enumerate(sorted(chosen.values(), key=_time))}
    return [replace(s, metadata_error=wrong[s.id]) if s.id in wrong else s for s in scenes]


def _time(scene: Scene) -> datetime:
    return scene.datetime


def _edge_latitudes(area: Polygon) -> list[float]:
    """Latitudes of the global edge-sampling lattice that cover ``area`` with a step to spare."""
    south, north = area.bounds[1], area.bounds[3]
    first = math.floor(south / _EDGE_STEP_DEG) - 1
    last = math.ceil(north / _EDGE_STEP_DEG) + 1
    return [k * _EDGE_STEP_DEG for k in range(first, last + 1)]


def _swath_edges(track: float, lats: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """West and east edge longitudes of the swath of ``track`` at each latitude."""
    centre = [track + TRACK_TILT * lat for lat in lats]
    half = [HALF_SWATH_M / (_METRES_PER_DEG * math.cos(math.radians(lat))) for lat in lats]
    west = np.array([c - h for c, h in zip(centre, half, strict=True)])
    east = np.array([c + h for c, h in zip(centre, half, strict=True)])
    return west, east


def _swath(track: float, area: Polygon) -> Polygon:
    """The swath of ``track`` over the latitudes of ``area``, as a lon/lat polygon."""
    lats = _edge_latitudes(area)
    west, east = _swath_edges(track, lats)
    return Polygon(
        list(zip(west, lats, strict=True)) + list(zip(east[::-1], lats[::-1], strict=True))
    )


# --- File windows and the pixel lattice --------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A rectangle of a granule's grid in UTM metres."""

    west: int
    north: int
    east: int
    south: int

    def shape(self, resolution: int) -> tuple[int, int]:
        return (self.north - self.south) // resolution, (self.east - self.west) // resolution

    def transform(self, resolution: int) -> Affine:
        return Affine(resolution, 0, self.west, 0, -resolution, self.north)

    def pixel_centres(self, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """UTM x of the column centres and y of the row centres."""
        rows, columns = self.shape(resolution)
        x = self.west + (np.arange(columns) + 0.5) * resolution
        return x, self.north - (np.arange(rows) + 0.5) * resolution


def file_window(granule: Granule, boxes: Iterable[BBox], margin_m: float) -> Window | None:
    """The window of ``granule`` covering the boxes (lon/lat) grown by ``margin_m``, widened
    to :data:`WINDOW_STEP_M` steps from the granule origin and clipped to the granule; None
    when they do not reach into the granule."""
    extent = box(granule.west, granule.south, granule.east, granule.north)
    parts = [utm_outline(granule.epsg, b.west, b.south, b.east, b.north) for b in boxes]
    needed = shapely.union_all([part.buffer(margin_m, join_style="mitre") for part in parts])
    inside = needed.intersection(extent)
    if inside.area == 0:
        return None
    west, south, east, north = inside.bounds
    step = WINDOW_STEP_M

    def snap(value: float, origin: int, up: bool) -> int:
        steps = (value - origin) / step
        return origin + step * (math.ceil(steps) if up else math.floor(steps))

    return Window(
        west=max(snap(west, granule.west, up=False), granule.west),
        north=min(snap(north, granule.north, up=True), granule.north),
        east=min(snap(east, granule.west, up=True), granule.east),
        south=max(snap(south, granule.north, up=False), granule.south),
    )


@dataclass(frozen=True)
class CellMap:
    """Where a window's 20 m pixels take their values: runs of pixel rows and columns that
    share a :data:`CELL_M` cell, and per cell the weather lattice node nearest its centre."""

    row_runs: np.ndarray
    column_runs: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray

    def expand(self, cells: np.ndarray, factor: int = 1) -> np.ndarray:
        """Per-cell values (last two axes) as pixels, ``factor`` pixels per 20 m pixel."""
        rows = np.repeat(cells, self.row_runs * factor, axis=-2)
        return np.repeat(rows, self.column_runs * factor, axis=-1)


def cell_map(granule: Granule, window: Window) -> CellMap:
    x, y = window.pixel_centres(SCL_RESOLUTION)
    # Pixel centres are whole metres, so the cell of each is exact.
    cell_x, column_runs = np.unique(np.floor(x / CELL_M).astype(np.int64), return_counts=True)
    cell_y, row_runs = np.unique(np.floor(y / CELL_M).astype(np.int64), return_counts=True)
    cell_y, row_runs = cell_y[::-1], row_runs[::-1]  # rows run north to south
    centre_x = (cell_x + 0.5) * CELL_M
    centre_y = (cell_y + 0.5) * CELL_M
    lon, lat = to_lonlat(granule.epsg, *np.meshgrid(centre_x, centre_y))
    # Continuous across the antimeridian, like the footprint: the nodes stay one compact block.
    lon = unwrap_lon(lon, central_meridian(granule.zone))
    node_x = np.rint(lon * weather.LATTICE_PER_DEG).astype(np.int64)
    node_y = np.rint(lat * weather.LATTICE_PER_DEG).astype(np.int64)
    return CellMap(row_runs, column_runs, node_x, node_y)


def swath_mask(scene: Scene, window: Window, resolution: int) -> np.ndarray:
    """True for the window's pixels inside the scene's swath. The edges are interpolated in
    UTM between points of the global latitude lattice, the same for every granule of a zone."""
    lats = _edge_latitudes(scene.footprint.envelope.buffer(0.2))
    west, east = _swath_edges(scene.node_lon, lats)
    x_west, y_west = to_utm(scene.granule.epsg, west, np.array(lats))
    x_east, y_east = to_utm(scene.granule.epsg, east, np.array(lats))
    x, y = window.pixel_centres(resolution)
    low = np.interp(y, y_west, x_west)[:, None]
    high = np.interp(y, y_east, x_east)[:, None]
    return (x[None, :] >= low) & (x[None, :] <= high)


# --- Generation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GranulePlan:
    """What to generate for one granule-year: the tiles it covers and its file windows."""

    granule: Granule
    tiles: tuple[tuple[float, float], ...]
    scl_window: Window
    scl_cells: CellMap
    band_window: Window | None
    band_cells: CellMap | None


def plan_granule(granule: Granule, tiles: Sequence[tuple[float, float]]) -> GranulePlan | None:
    """The files of ``granule`` the tiles need; None if no tile's cloud box reaches into it
    (a box that only touches its edge)."""
    half = CLOUD_BBOX_HALF_DEG
    cloud_boxes = [BBox(lon - half, lat - half, lon + half, lat + half) for lon, lat in tiles]
    scl_window = file_window(granule, cloud_boxes, 0)
    if scl_window is None:
        return None
    band_window = file_window(granule, [tile_bbox(*t) for t in tiles], BAND_MARGIN_M)
    return GranulePlan(
        granule,
        tuple(sorted(tiles)),
        scl_window,
        cell_map(granule, scl_window),
        band_window,
        None if band_window is None else cell_map(granule, band_window),
    )


@dataclass(frozen=True)
class _Context:
    """What every day's job needs: the plans, and the ground on the lattice window that holds
    every plan's nodes (``origin`` is its (x, y) node index)."""

    root: Path
    plans: dict[str, GranulePlan]
    origin: tuple[int, int]
    ground: weather.Ground
    #: The coarse grid of item statistics and its ground.
    coarse: tuple[np.ndarray, np.ndarray, weather.Ground]


#: A worker process's context, set once when the pool starts it.
_worker_context: _Context | None = None


def _start_worker(context: _Context) -> None:
    global _worker_context
    _worker_context = context


def _render_day_in_worker(day: date, scenes: Sequence[Scene]) -> None:
    _render_day(_worker_context, day, scenes)


def _make_context(root: Path, plans: Sequence[GranulePlan]) -> _Context:
    nodes = functools.reduce(NodeBox.union, (plan_nodes(plan) for plan in plans))
    x0, y0 = nodes.x0, nodes.y0
    lon = weather.lattice(x0, nodes.x1 - x0 + 1)
    lat = weather.lattice(y0, nodes.y1 - y0 + 1)
    coarse_lon, coarse_lat = coarse_grid(p.granule for p in plans)
    return _Context(
        root,
        {p.granule.id: p for p in plans},
        (x0, y0),
        weather.ground(lon, lat),
        (coarse_lon, coarse_lat, weather.ground(coarse_lon, coarse_lat)),
    )


def _render_day(context: _Context, day: date, scenes: Sequence[Scene]) -> None:
    """Write every file of the day's scenes (SCL and bands, then item and truth record)."""
    x0, y0 = context.origin
    rows, columns = context.ground.cover.shape
    lat = weather.lattice(y0, rows)
    sky = weather.sky(day, weather.lattice(x0, columns), lat)
    classes = weather.scene_classes(context.ground, sky, day, lat)
    coarse_lon, coarse_lat, coarse_ground = context.coarse
    coarse_sky = weather.sky(day, coarse_lon, coarse_lat)
    coarse_classes = weather.scene_classes(coarse_ground, coarse_sky, day, coarse_lat)
    for scene in scenes:
        plan = context.plans[scene.granule.id]
        folder = scene_folder(context.root, scene)
        cells = plan.scl_cells
        scl = cells.expand(classes[cells.node_y - y0, cells.node_x - x0])
        if scene.share < 1:
            scl[~swath_mask(scene, plan.scl_window, SCL_RESOLUTION)] = weather.NO_DATA
        transform = plan.scl_window.transform(SCL_RESOLUTION)
        _write_cog(folder / "SCL.tif", scl, transform, scene.granule.epsg, _SCL_COG)
        if plan.band_cells is not None:
            _write_bands(context, folder, scene, sky)
        shares = class_shares(coarse_classes, coarse_lon, coarse_lat, scene.footprint)
        _write_item(context.root, scene, plan, shares)


def _write_bands(context: _Context, folder: Path, scene: Scene, sky: weather.Sky) -> None:
    """Write the scene's ten band files: the day's reflectance, as DN with the scene's offset."""
    x0, y0 = context.origin
    plan = context.plans[scene.granule.id]
    cells = plan.band_cells
    # Reflectance only on the nodes the band window uses (a small block of the lattice).
    bx0, by0 = int(cells.node_x.min()), int(cells.node_y.min())
    block = (
        slice(by0 - y0, int(cells.node_y.max()) - y0 + 1),
        slice(bx0 - x0, int(cells.node_x.max()) - x0 + 1),
    )
    ground = weather.Ground(*(part[block] for part in context.ground))
    local_sky = weather.Sky(*(part[block] for part in sky))
    lat = weather.lattice(by0, ground.cover.shape[0])
    values = weather.reflectance(ground, local_sky, scene.datetime.date(), lat)[
        :, cells.node_y - by0, cells.node_x - bx0
    ]
    dn = np.clip(np.rint(values * 10_000) + scene.pixel_offset_dn, 1, 65_535).astype(np.uint16)
    if scene.share < 1:
        outside = {
            r: ~swath_mask(scene, plan.band_window, r) for r in {b.resolution for b in BANDS}
        }
    for index, band in enumerate(BANDS):
        pixels = cells.expand(dn[index], factor=SCL_RESOLUTION // band.resolution)
        if scene.share < 1:
            pixels[outside[band.resolution]] = 0
        transform = plan.band_window.transform(band.resolution)
        _write_cog(folder / f"{band.file}.tif", pixels, transform, scene.granule.epsg, _BAND_COG)


def _write_cog(path: Path, pixels: np.ndarray, transform: Affine, epsg: int, options: dict) -> None:
    """Write ``pixels`` (nodata 0) as a COG through GDAL's COG driver, atomically. The source is
    a GDAL in-memory dataset: no intermediate GeoTIFF to encode and decode."""
    profile = {
        "driver": "MEM",
        "width": pixels.shape[1],
        "height": pixels.shape[0],
        "count": 1,
        "dtype": pixels.dtype,
        "crs": f"EPSG:{epsg}",
        "transform": transform,
        "nodata": 0,
    }
    with rasterio.open(path.name, "w", **profile) as scratch:
        scratch.write(pixels, 1)
        replace_atomically(
            path, lambda tmp: rasterio.shutil.copy(scratch, tmp, driver="COG", **options)
        )


def scene_folder(root: Path, scene: Scene) -> Path:
    g, moment = scene.granule, scene.datetime
    return (
        root
        / "sentinel-cogs/sentinel-s2-l2a-cogs"
        / f"{g.zone}/{g.latitude_band}/{g.grid_square}/{moment.year}/{moment.month}/{scene.id}"
    )


def item_path(root: Path, scene_id: str) -> Path:
    return root / "stac" / COLLECTION / f"{scene_id}.json"


def truth_path(root: Path, scene_id: str) -> Path:
    return root / "demo-truth" / COLLECTION / f"{scene_id}.json"


def coverage_path(root: Path, year: int, granule_id: str) -> Path:
    return root / "demo-coverage" / COLLECTION / str(year) / f"{granule_id}.json"


# --- Items -------------------------------------------------------------------------------------


def coarse_grid(granules: Iterable[Granule]) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the coarse grid (every :data:`_STATISTICS_STEP`-th lattice
    node, 1/40 degree) over the granules' footprints, where item statistics are taken."""
    west, south, east, north = shapely.union_all([footprint(g) for g in granules]).bounds
    scale = weather.LATTICE_PER_DEG / _STATISTICS_STEP
    lon = np.arange(math.floor(west * scale), math.ceil(east * scale) + 1) / scale
    lat = np.arange(math.floor(south * scale), math.ceil(north * scale) + 1) / scale
    return lon, lat


def class_shares(
    classes: np.ndarray, lon: np.ndarray, lat: np.ndarray, area: Polygon
) -> np.ndarray:
    """Share of each SCL class (index) among the grid nodes of ``classes`` inside ``area``."""
    inside = shapely.contains_xy(area, lon[None, :], lat[:, None])
    counts = np.bincount(classes[inside], minlength=12).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def s2_item(root: Path, scene: Scene, plan: GranulePlan, shares: np.ndarray) -> dict:
    """The scene's STAC item with the keys and key order of Earth Search v1's 2023 items,
    without :data:`OMITTED_PROPERTIES` and :data:`OMITTED_ASSETS`, and with hrefs relative to
    the item file."""
    g, moment = scene.granule, scene.datetime
    letter = scene.platform[-1].upper()
    baseline = scene.declared_baseline
    number = baseline.replace(".", "")
    started = moment - timedelta(minutes=10)  # the datatake began before this granule
    generated = moment + timedelta(hours=6)
    stamp = f"{generated:%Y%m%dT%H%M%S}"
    centre = scene.footprint.centroid
    azimuth, elevation = weather.sun_position(moment, centre.x, centre.y)
    day_of_year = moment.timetuple().tm_yday
    earth_sun = 1 - 0.01673 * math.cos(2 * math.pi * (day_of_year - 4) / 365.25)

    def percent(*classes: int) -> float:
        return round(100 * float(sum(shares[c] for c in classes)), 6)

    nodata = 100 * (1 - scene.share)
    geometry, bbox = geojson_outline(scene.footprint)
    item_folder = item_path(root, scene.id).parent
    folder = scene_folder(root, scene)

    def href(name: str) -> str:
        return Path(os.path.relpath(folder / name, item_folder)).as_posix()

    assets = {"scl": _scl_asset(href("SCL.tif"), plan.scl_window)}
    if plan.band_window is not None:
        offset = -0.1 if scene.declares_offset else 0
        for band in BANDS:
            assets[band.key] = _band_asset(band, href(f"{band.file}.tif"), plan.band_window, offset)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": scene.id,
        "properties": {
            "platform": scene.platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "eo:cloud_cover": percent(*weather.CLOUD_CLASSES, weather.THIN_CIRRUS),
            "proj:epsg": g.epsg,
            "mgrs:utm_zone": g.zone,
            "mgrs:latitude_band": g.latitude_band,
            "mgrs:grid_square": g.grid_square,
            "grid:code": f"MGRS-{g.id}",
            "view:sun_azimuth": azimuth,
            "view:sun_elevation": elevation,
            "s2:degraded_msi_data_percentage": 0,
            "s2:nodata_pixel_percentage": round(nodata, 6),
            "s2:saturated_defective_pixel_percentage": 0,
            "s2:dark_features_percentage": percent(weather.DARK_AREA),
            "s2:cloud_shadow_percentage": percent(weather.CLOUD_SHADOW),
            "s2:vegetation_percentage": percent(weather.VEGETATION),
            "s2:not_vegetated_percentage": percent(weather.NOT_VEGETATED),
            "s2:water_percentage": percent(weather.WATER),
            "s2:unclassified_percentage": percent(weather.UNCLASSIFIED),
            "s2:medium_proba_clouds_percentage": percent(weather.CLOUD_MEDIUM),
            "s2:high_proba_clouds_percentage": percent(weather.CLOUD_HIGH),
            "s2:thin_cirrus_percentage": percent(weather.THIN_CIRRUS),
            "s2:snow_ice_percentage": 0,
            "s2:product_type": "S2MSI2A",
            "s2:processing_baseline": baseline,
            "s2:product_uri": (
                f"S2{letter}_MSIL2A_{started:%Y%m%dT%H%M%S}_N{number}_R{scene.relative_orbit:03d}"
                f"_T{g.id}_{stamp}.SAFE"
            ),
            "s2:generation_time": f"{generated:%Y-%m-%dT%H:%M:%S.%f}Z",
            "s2:datatake_id": (
                f"GS2{letter}_{started:%Y%m%dT%H%M%S}_{scene.absolute_orbit:06d}_N{baseline}"
            ),
            "s2:datatake_type": "INS-NOBS",
            "s2:datastrip_id": (
                f"S2{letter}_OPER_MSI_L2A_DS_2{letter}PS_{stamp}_S{moment:%Y%m%dT%H%M%S}_N{baseline}"
            ),
            "s2:granule_id": (
                f"S2{letter}_OPER_MSI_L2A_TL_2{letter}PS_{stamp}_A{scene.absolute_orbit:06d}"
                f"_T{g.id}_N{baseline}"
            ),
            "s2:reflectance_conversion_factor": 1 / (earth_sun * earth_sun),
            "datetime": f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z",
            "s2:sequence": "0",
            "earthsearch:boa_offset_applied": scene.declares_offset,
            "processing:software": {"ttc-ard-demo-archive": GENERATOR_VERSION},
        },
        "geometry": geometry,
        "links": [{"rel": "collection", "type": "application/json", "href": "./collection.json"}],
        "assets": dict(sorted(assets.items())),
        "bbox": bbox,
        "stac_extensions": [
            "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
            "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/view/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        ],
        "collection": COLLECTION,
    }


def _band_asset(band: Band, href: str, window: Window, offset: float) -> dict:
    resolution = band.resolution
    return {
        "href": href,
        "type": COG_TYPE,
        "title": band.title,
        "eo:bands": [
            {
                "name": band.key,
                "common_name": band.common_name,
                "description": band.description,
                "center_wavelength": band.center_wavelength,
                "full_width_half_max": band.full_width_half_max,
            }
        ],
        "gsd": resolution,
        "proj:shape": list(window.shape(resolution)),
        "proj:transform": list(window.transform(resolution))[:6],
        "raster:bands": [
            {
                "nodata": 0,
                "data_type": "uint16",
                "bits_per_sample": 15,
                "spatial_resolution": resolution,
                "scale": 0.0001,
                "offset": offset,
            }
        ],
        "roles": ["data", "reflectance"],
    }


def _scl_asset(href: str, window: Window) -> dict:
    return {
        "href": href,
        "type": COG_TYPE,
        "title": "Scene classification map (SCL)",
        "proj:shape": list(window.shape(SCL_RESOLUTION)),
        "proj:transform": list(window.transform(SCL_RESOLUTION))[:6],
        "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": SCL_RESOLUTION}],
        "roles": ["data", "reflectance"],
    }


def truth_record(scene: Scene, shares: np.ndarray) -> dict:
    """What the scene's pixels really are, for tests to hold the loader's findings against."""
    return {
        "id": scene.id,
        "pixel_offset_dn": scene.pixel_offset_dn,
        "processing_baseline": scene.baseline,
        "declared_processing_baseline": scene.declared_baseline,
        "declared_offset": scene.declares_offset,
        "metadata_error": scene.metadata_error,
        "cloud_share": float(sum(shares[c] for c in (*weather.CLOUD_CLASSES, weather.THIN_CIRRUS))),
        "footprint_share": scene.share,
    }


def _write_item(root: Path, scene: Scene, plan: GranulePlan, shares: np.ndarray) -> None:
    for path, record in (
        (item_path(root, scene.id), s2_item(root, scene, plan, shares)),
        (truth_path(root, scene.id), truth_record(scene, shares)),
    ):
        text = json.dumps(record, indent=1) + "\n"
        replace_atomically(
            path, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8")
        )


# --- The archive -------------------------------------------------------------------------------


def write_s2_archive(
    archive_root: str | os.PathLike,
    year: int,
    tile_centres: Sequence[tuple[float, float]],
    workers: int = 1,
) -> dict:
    """Make sure the archive holds every scene of ``year`` over the tiles with these centres.

    A granule-year whose coverage record already lists all its requested tiles is left alone;
    any other is generated again for the old and the new tiles together, so its files only
    grow and keep their pixels. Every file is written atomically, the coverage record last, so
    a killed run never leaves a record claiming files that are not there. Days are generated
    in parallel on ``workers`` processes (one day's weather serves a group of nearby granules,
    see :func:`write_scenes`). Returns
    the granules written and skipped, the number of scenes and the seconds taken.
    """
    started = time.perf_counter()
    root = Path(archive_root)
    wanted: dict[Granule, set[tuple[float, float]]] = defaultdict(set)
    half = CLOUD_BBOX_HALF_DEG
    for lon, lat in {(float(lon), float(lat)) for lon, lat in tile_centres}:
        for granule in granules_intersecting(lon - half, lat - half, lon + half, lat + half):
            wanted[granule].add((lon, lat))
    plans, skipped = [], []
    for granule, tiles in sorted(wanted.items(), key=lambda item: item[0].id):
        covered = covered_tiles(root, year, granule.id)
        plan = None if tiles <= covered else plan_granule(granule, sorted(tiles | covered))
        if plan is None:
            skipped.append(granule.id)
        else:
            plans.append(plan)
    scenes = [scene for plan in plans for scene in granule_scenes(plan.granule, year)]
    write_scenes(root, plans, scenes, workers)
    for plan in plans:
        record = {
            "collection": COLLECTION,
            "generator": GENERATOR_VERSION,
            "granule": plan.granule.id,
            "tiles": [list(tile) for tile in plan.tiles],
            "year": year,
        }
        write_json(record, coverage_path(root, year, plan.granule.id))
    return {
        "granules_written": [plan.granule.id for plan in plans],
        "granules_skipped": skipped,
        "scenes": len(scenes),
        "seconds": round(time.perf_counter() - started, 2),
    }


def write_scenes(
    root: Path, plans: Sequence[GranulePlan], scenes: Iterable[Scene], workers: int = 1
) -> None:
    """Write the files of ``scenes`` (of the planned granules), a day per job, on ``workers``
    processes. Granules near each other are generated together (:func:`nearby_groups`): one
    day's weather is computed once for all of a group's granules, on a lattice no larger
    than theirs, so memory follows the number of granules, not the distance between them."""
    scenes = list(scenes)
    boxes = [plan_nodes(plan) for plan in plans]
    for group in nearby_groups(boxes):
        members = [plans[k] for k in group]
        ids = {plan.granule.id for plan in members}
        days: dict[date, list[Scene]] = defaultdict(list)
        for scene in scenes:
            if scene.granule.id in ids:
                days[scene.datetime.date()].append(scene)
        if days:
            _write_days(_make_context(root, members), sorted(days.items()), workers)


def _write_days(context: _Context, jobs: Sequence[tuple[date, list[Scene]]], workers: int) -> None:
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(context,)) as pool:
            list(pool.map(_render_day_in_worker, *zip(*jobs, strict=True)))
    else:
        for day, day_scenes in jobs:
            _render_day(context, day, day_scenes)


@dataclass(frozen=True)
class NodeBox:
    """A rectangle of the weather lattice, node indices inclusive (x west to east, y south to
    north)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def nodes(self) -> int:
        return (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)

    def union(self, other: NodeBox) -> NodeBox:
        """The smallest box holding both."""
        return NodeBox(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )


def plan_nodes(plan: GranulePlan) -> NodeBox:
    """The lattice nodes a granule's files take their values from."""
    maps = [m for m in (plan.scl_cells, plan.band_cells) if m is not None]
    return NodeBox(
        min(int(m.node_x.min()) for m in maps),
        min(int(m.node_y.min()) for m in maps),
        max(int(m.node_x.max()) for m in maps),
        max(int(m.node_y.max()) for m in maps),
    )


def nearby_groups(boxes: Sequence[NodeBox]) -> list[list[int]]:
    """Indices of ``boxes`` in groups to generate together, each group in increasing order
    and the groups by their first index.

    Two groups join while one lattice over both holds no more nodes than their two lattices
    (they overlap or line up side by side), the pair that saves most first. So a group's
    lattice never holds more nodes than its members' boxes together, wherever they lie:
    granules of one place share a lattice, granules of places far apart never do.
    """
    groups = [([k], nodes) for k, nodes in enumerate(boxes)]
    while len(groups) > 1:
        saved, a, b = max(
            (
                (_nodes_saved(groups[a][1], groups[b][1]), a, b)
                for a, b in combinations(range(len(groups)), 2)
            ),
            key=lambda pair: pair[0],
        )
        if saved < 0:
            break
        merged = (sorted(groups[a][0] + groups[b][0]), groups[a][1].union(groups[b][1]))
        groups = [g for k, g in enumerate(groups) if k not in (a, b)] + [merged]
    return sorted(members for members, _ in groups)


def _nodes_saved(first: NodeBox, second: NodeBox) -> int:
    """Nodes saved by one lattice over both boxes instead of one each (negative: it costs)."""
    return first.nodes + second.nodes - first.union(second).nodes


def covered_tiles(root: Path, year: int, granule_id: str) -> set[tuple[float, float]]:
    """The tile centres the granule-year's coverage record lists (none without a record of
    this generator version)."""
    path = coverage_path(root, year, granule_id)
    if not path.exists():
        return set()
    record = json.loads(path.read_text())
    if record.get("generator") != GENERATOR_VERSION:
        return set()
    return {(float(lon), float(lat)) for lon, lat in record["tiles"]}
