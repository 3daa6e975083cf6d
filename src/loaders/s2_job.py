"""The Sentinel-2 tile job: stage 1 chooses the clean days from the clouds around the tile,
stage 2 loads the scene of each clean day over the tile; the six contract arrays and their QA
record."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from loaders import qa, s2
from loaders.errors import TileDataError
from loaders.s2_source import (
    Acquisition,
    SceneBands,
    TileGrids,
    acquisitions,
    cloud_candidates,
    read_mosaics,
    read_scene_bands,
    tile_acquisitions,
    tile_grids,
)
from loaders.spec import Catalog, TileJob, TileResult
from loaders.tiles import Tile

#: The output names, those of the job's ``outputs``.
OUTPUTS = ("s2_10", "s2_20", "s2_dates", "clouds", "cloudmask", "clean_steps")
#: GDAL settings of this product over the shared ones: none.
GDAL_SETTINGS: dict[str, str] = {}
#: Percentiles of each band's reflectance in the QA record.
REFLECTANCE_PERCENTILES = {"p01": 1, "p50": 50, "p99": 99}


def compute(job: TileJob) -> TileResult:
    """The S2 ARD of ``job``'s tile and its QA record. A tile without any usable scene raises
    :class:`TileDataError` ``no_data``."""
    grids = tile_grids(job.tile)
    clean = choose_clean_days(job.stac, job.tile, grids)
    scenes = match_tile_scenes(job.stac, job.tile, grids, clean)
    bands = read_scene_bands(scenes.kept_days, grids, scenes.kept_scl)
    year = job.tile.year
    arrays = {
        "s2_10": bands.bands_10m,
        "s2_20": bands.bands_20m,
        "s2_dates": s2.day_of_year([day.day for day in scenes.kept_days], year),
        "clouds": s2.clouds_grid(clean.scl),
        "cloudmask": s2.cirrus_mask(scenes.kept_scl).astype(np.uint8),
        "clean_steps": np.array([s2.legacy_day_number(d, year) for d in clean.days], np.int64),
    }
    return TileResult(arrays, qa_record(job.tile, grids, clean, scenes, bands))


@dataclass(frozen=True)
class CleanDays:
    """Stage 1: the candidate days around the tile, their clouds, and the clean ones."""

    candidates: int
    """Items found (a solar day may have several)."""
    cloud_days: list[Acquisition]
    scl: np.ndarray
    """(days, h, w) SCL of every candidate day on the cloud grid."""
    global_cloud: np.ndarray
    local_cloud: np.ndarray
    selection: s2.DaySelection

    @property
    def days(self) -> list[datetime.date]:
        """The clean days, chronological."""
        return [self.cloud_days[i].day for i in self.selection.kept]


def choose_clean_days(catalog: Catalog, tile: Tile, grids: TileGrids) -> CleanDays:
    candidates = cloud_candidates(catalog, tile)
    cloud_days = acquisitions(candidates, s2.tile_cloud_bbox(tile), tile.lon)
    scl = read_mosaics(cloud_days, "scl", grids.clouds)
    global_cloud, local_cloud = s2.cloud_fractions(scl)
    selection = s2.select_clean_days([day.day for day in cloud_days], global_cloud, local_cloud)
    return CleanDays(len(candidates), cloud_days, scl, global_cloud, local_cloud, selection)


@dataclass(frozen=True)
class TileScenes:
    """Stage 2: the days over the tile, those matched to a clean day, and those kept."""

    days: list[Acquisition]
    chosen: list[int]
    """Indices into ``days`` of the days matched to a clean day, chronological."""
    bad_fraction: np.ndarray
    """Cloudy share of each chosen day's SCL over the tile."""
    scl: np.ndarray
    """(chosen, h, w) SCL of the chosen days on the cirrus grid."""

    @property
    def usable(self) -> np.ndarray:
        return self.bad_fraction <= s2.MAX_TILE_BAD_FRACTION

    @property
    def kept_days(self) -> list[Acquisition]:
        return [self.days[i] for i, ok in zip(self.chosen, self.usable, strict=True) if ok]

    @property
    def kept_scl(self) -> np.ndarray:
        return self.scl[self.usable]


def match_tile_scenes(
    catalog: Catalog, tile: Tile, grids: TileGrids, clean: CleanDays
) -> TileScenes:
    """For each clean day the nearest acquisition over the tile itself, those cloudy over the
    tile dropped; :class:`TileDataError` ``no_data`` if none is left."""
    days = tile_acquisitions(catalog, tile)
    matched = {
        s2.nearest_scene_day(day, [d.day for d in days], [d.coverage for d in days])
        for day in clean.days
    }
    chosen = sorted(matched - {None})
    scl = read_mosaics([days[i] for i in chosen], "scl", grids.cirrus)
    scenes = TileScenes(days, chosen, s2.bad_fraction(scl), scl)
    if not scenes.kept_days:
        raise TileDataError(
            "no_data",
            f"no usable Sentinel-2 scene in {tile.year} over {tile.tag}: "
            f"{len(clean.cloud_days)} day(s) found around it, {len(clean.days)} clean enough, "
            f"{len(chosen)} matched over the tile"
            + (
                f", none with at most {s2.MAX_TILE_BAD_FRACTION:.0%} cloudy pixels there."
                if chosen
                else "."
            ),
        )
    return scenes


def qa_record(
    tile: Tile, grids: TileGrids, clean: CleanDays, scenes: TileScenes, bands: SceneBands
) -> dict:
    """The tile's QA record: how the days were chosen, how each item was harmonised, and the
    reflectance of the kept scenes."""
    ten, clouds = grids.bands_10m, grids.clouds
    reflectance = band_percentiles(bands.bands_10m, bands.valid, s2.BANDS_10M) | band_percentiles(
        bands.bands_20m, bands.valid[:, ::2, ::2], s2.BANDS_20M
    )
    details = {
        "cloud_grid": qa.grid_record(clouds.transform, [clouds.height, clouds.width]),
        qa.SCENES_FOUND: clean.candidates,
        qa.DAYS_FOUND: len(clean.cloud_days),
        qa.CLEAN_DAYS: len(clean.days),
        qa.KEPT: len(scenes.kept_days),
        "cloud_scores": cloud_scores(clean),
        "tile_scenes": [
            {
                "date": scenes.days[i].day.isoformat(),
                "items": [item.id for item in scenes.days[i].items],
                "coverage": scenes.days[i].coverage,
                "bad_fraction": round(float(fraction), 4),
                "kept": bool(ok),
            }
            for i, fraction, ok in zip(
                scenes.chosen, scenes.bad_fraction, scenes.usable, strict=True
            )
        ],
        "offsets": bands.offsets,
        qa.OFFSET_DISAGREEMENTS: sum(1 for o in bands.offsets if o["disagreement"]),
        qa.NODATA_FRACTION: round(1 - float(bands.valid.mean()), 6),
        "reflectance": reflectance,
    }
    nir = bands.bands_10m[..., s2.BANDS_10M.index("nir")]
    return qa.tile_record(
        "s2",
        tile.tag,
        qa.grid_record(ten.transform, [ten.height, ten.width], crs=ten.crs),
        details,
        typical=reflectance.get("nir", {}).get("p50", 0.0),
        constant=bool(nir.min() == nir.max()),
    )


def cloud_scores(clean: CleanDays) -> list[dict]:
    """Stage 1's figures of each candidate day, and why it was dropped (``""``: kept)."""
    selection = clean.selection
    return [
        {
            "date": day.day.isoformat(),
            "items": len(day.items),
            "global": round(float(clean.global_cloud[i]), 4),
            "local": round(float(clean.local_cloud[i]), 4),
            "score": round(float(selection.score[i]), 4),
            "dropped": selection.dropped_reason[i],
        }
        for i, day in enumerate(clean.cloud_days)
    ]


def band_percentiles(bands: np.ndarray, valid: np.ndarray, names: tuple[str, ...]) -> dict:
    """1st, 50th and 99th percentile of each band's reflectance over valid pixels, by band name
    (to 4 decimals; a band without valid pixels is left out). Exact: the nearest rank of the
    uint16 values (numpy's ``inverted_cdf``), not an interpolation between two."""
    stats = {}
    for b, name in enumerate(names):
        found = qa.percentiles(
            bands[..., b][valid],
            REFLECTANCE_PERCENTILES,
            method="inverted_cdf",
            divide_by=s2.U16_FULL_SCALE,
            digits=4,
        )
        if found:
            stats[name] = found
    return stats
