"""The Sentinel-1 tile job: quarterly gamma0 composites of the tile (VV, VH), terrain
flattened with the Copernicus DEM, and their QA record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pystac

from loaders import dem, qa, s1
from loaders.dem_source import read_tile_elevation
from loaders.errors import TileDataError
from loaders.geoid import tile_undulation
from loaders.grid import Grid, tile_grid
from loaders.reading import read_pool
from loaders.s1_source import (
    POLARISATIONS,
    S3Access,
    SceneAnnotations,
    scene_annotations,
    scene_footprints,
    search_scenes,
    tile_gamma0,
)
from loaders.spec import TileJob, TileResult
from loaders.tiles import Tile

#: The output names, those of the job's ``outputs``.
OUTPUTS = ("s1", "s1_dates")
#: GDAL settings of this product over the shared ones: none.
GDAL_SETTINGS: dict[str, str] = {}


@dataclass(frozen=True)
class Layer:
    """One polarisation of one scene on the tile's grid."""

    gamma0: np.ndarray
    """Terrain-flattened gamma0; NaN where the scene has no data, in layover or in shadow."""
    layover: np.ndarray
    """bool: where the scene has data and the ground faces it more steeply than its beam."""
    shadow: np.ndarray
    """bool: where the scene has data and the ground faces away more steeply than it grazes."""


#: Each chosen scene's polarisations, by (scene index, polarisation); None where the scene
#: misses the tile.
Layers = dict[tuple[int, str], Layer | None]


def compute(job: TileJob) -> TileResult:
    """The S1 ARD of ``job``'s tile and its QA record. A tile without any scene in the year's
    quarters raises :class:`TileDataError` ``no_data``."""
    tile = job.tile
    grid = tile_grid(tile)
    # The grid grown by one pixel, for the slope's central differences at its edges.
    lons_around, lats_around = grid.pixel_lonlat(border=1)
    lons, lats = lons_around[1:-1, 1:-1], lats_around[1:-1, 1:-1]
    scenes = search_scenes(job.stac, tile)
    footprints = scene_footprints(scenes, lons, lats)
    chosen = s1.select_quarter_scenes([item.datetime for item in scenes], footprints, tile.year)
    terrain = tile_terrain(grid, lons_around, lats_around, job.dem_root, job.geoid)
    access = S3Access(job.requester_pays, job.source_s3_endpoint_url)
    layers = flattened_layers(scenes, chosen, terrain, lons, lats, access)
    quarters = quarterly_composites(chosen, layers, lons.shape)
    has_data = [bool(np.isfinite(quarters[q]).any()) for q in range(len(s1.QUARTERS))]
    if not any(has_data):
        raise TileDataError("no_data", "no Sentinel-1 scene covers the tile in any quarter")
    stand_in = s1.fill_missing_quarters(has_data)
    filled = s1.fill_gaps(quarters)
    arrays = {"s1": s1.encode_s1(filled), "s1_dates": s1.S1_DATES.copy()}
    composites = Composites(chosen, quarters, stand_in, filled)
    return TileResult(arrays, qa_record(tile, grid, scenes, footprints, layers, composites))


@dataclass(frozen=True)
class Terrain:
    """The tile's ground on its grid: height above the WGS84 ellipsoid (metres), to place its
    pixels in the images, and slope and aspect (degrees), for terrain flattening."""

    height: np.ndarray
    """The DEM's height (above the EGM2008 geoid) plus the geoid's above the ellipsoid: the
    heights of the images' geolocation grids are above the ellipsoid."""
    slope: np.ndarray
    aspect: np.ndarray
    """Clockwise from true north, as the radar's look direction is."""


def tile_terrain(
    grid: Grid, lons_around: np.ndarray, lats_around: np.ndarray, dem_root: str, geoid: str
) -> Terrain:
    """The ground of ``grid``, whose pixel centres grown by one pixel are ``lons_around``,
    ``lats_around``, from the DEM cells under ``dem_root`` and the geoid grid at ``geoid``."""
    elevation = read_tile_elevation(lons_around, lats_around, dem_root).on_grid
    size_m = grid.ground_pixel_size()
    aspect_on_grid = s1.aspect_degrees(elevation, size_m, size_m)
    lons, lats = lons_around[1:-1, 1:-1], lats_around[1:-1, 1:-1]
    return Terrain(
        elevation[1:-1, 1:-1] + tile_undulation(geoid, lons, lats),
        dem.slope_degrees(elevation, size_m, size_m),
        ((aspect_on_grid + grid.grid_north_azimuth()) % 360.0).astype(np.float32),
    )


def flattened_layers(
    scenes: Sequence[pystac.Item],
    chosen: list[list[int]],
    terrain: Terrain,
    lons: np.ndarray,
    lats: np.ndarray,
    access: S3Access,
) -> Layers:
    """Terrain-flattened gamma0 of both polarisations of every chosen scene, read in threads.

    The annotations of all layers are fetched first, together: fetched by each layer's thread
    between its computations, they kept 0.6 requests in flight of the pool's eight (one served
    demo tile), and their 30 ms waits added up."""

    def annotations(layer: tuple[int, str]) -> SceneAnnotations:
        index, pol = layer
        return scene_annotations(scenes[index], pol, access)

    def flattened(layer: tuple[int, str]) -> Layer | None:
        index, pol = layer
        read = tile_gamma0(scenes[index], pol, notes[layer], lons, lats, terrain.height)
        if read is None:
            return None
        ground = (read.incidence_deg, terrain.slope, terrain.aspect, read.look_azimuth_deg)
        has_data = np.isfinite(read.gamma0)
        layover, shadow = s1.layover_and_shadow(*ground)
        return Layer(s1.flatten_gamma0(read.gamma0, *ground), layover & has_data, shadow & has_data)

    wanted = [(i, pol) for indices in chosen for i in indices for pol in POLARISATIONS]
    with read_pool() as pool:
        notes = dict(zip(wanted, pool.map(annotations, wanted), strict=True))
        return dict(zip(wanted, pool.map(flattened, wanted), strict=True))


def quarterly_composites(
    chosen: list[list[int]], layers: Layers, shape: tuple[int, int]
) -> np.ndarray:
    """(4, H, W, 2) median of each quarter's layers per polarisation; NaN where none has data."""
    quarters = np.full((len(s1.QUARTERS), *shape, len(POLARISATIONS)), np.nan, np.float32)
    for q, indices in enumerate(chosen):
        for p, pol in enumerate(POLARISATIONS):
            stack = [layers[(i, pol)].gamma0 for i in indices if layers[(i, pol)] is not None]
            if stack:
                quarters[q, ..., p] = s1.median_composite(np.stack(stack))
    return quarters


@dataclass(frozen=True)
class Composites:
    """How the quarters were made: the scenes chosen for each, their composites (NaN where no
    scene had data), the quarter standing in for each, and the composites with gaps filled."""

    chosen: list[list[int]]
    quarters: np.ndarray
    stand_in: list[int]
    filled: np.ndarray


def qa_record(
    tile: Tile,
    grid: Grid,
    scenes: Sequence[pystac.Item],
    footprints: np.ndarray,
    layers: Layers,
    composites: Composites,
) -> dict:
    """The tile's QA record: the scenes found and used, each quarter's scenes and backscatter."""
    stand_in = composites.stand_in
    vv = composites.filled[..., POLARISATIONS.index("vv")]
    details = {
        qa.SCENES_FOUND: len(scenes),
        qa.SCENES_USED: sum(1 for layer in layers.values() if layer is not None) // 2,
        "quarters": [
            {
                "quarter": q + 1,
                "scenes": [scene_record(scenes[i], footprints[i]) for i in indices],
                "filled_from_quarter": stand_in[q] + 1 if stand_in[q] != q else None,
                "masked_fraction": round(float(np.isnan(composites.quarters[q]).mean()), 4),
                "layover_fraction": terrain_share(layers, indices, "layover"),
                "shadow_fraction": terrain_share(layers, indices, "shadow"),
                "gamma0_db": {
                    pol: db_percentiles(composites.quarters[q, ..., p])
                    for p, pol in enumerate(POLARISATIONS)
                },
            }
            for q, indices in enumerate(composites.chosen)
        ],
        qa.FILLED_QUARTERS: [q + 1 for q in range(len(s1.QUARTERS)) if stand_in[q] != q],
        qa.NODATA_FRACTION: round(float(np.isnan(composites.filled).mean()), 6),
    }
    return qa.tile_record(
        "s1",
        tile.tag,
        qa.grid_record(grid.transform, [grid.height, grid.width], crs=grid.crs),
        details,
        typical=db_percentiles(vv).get("p50", 0.0),
        constant=bool(np.nanmin(vv) == np.nanmax(vv)) if np.isfinite(vv).any() else True,
    )


def terrain_share(layers: Layers, indices: list[int], flag: str) -> float:
    """Share of the tile in layover (``flag="layover"``) or shadow in at least one of the
    scenes ``indices`` (the geometry of a scene is that of its two polarisations)."""
    found = [getattr(layers[(i, "vv")], flag) for i in indices if layers[(i, "vv")] is not None]
    return round(float(np.logical_or.reduce(found).mean()), 4) if found else 0.0


def scene_record(item: pystac.Item, footprint: np.ndarray) -> dict:
    return {
        "item": item.id,
        "date": item.datetime.date().isoformat(),
        "orbit_state": item.properties.get("sat:orbit_state"),
        "relative_orbit": item.properties.get("sat:relative_orbit"),
        "coverage": round(float(footprint.mean()), 3),
    }


def db_percentiles(gamma0: np.ndarray) -> dict:
    """5th, 50th and 95th percentile of the positive ``gamma0`` in dB, to 0.01 dB."""
    positive = gamma0[np.isfinite(gamma0) & (gamma0 > 0)]
    return qa.percentiles(10 * np.log10(positive), {"p05": 5, "p50": 50, "p95": 95}, digits=2)
