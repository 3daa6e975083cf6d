"""The demo archive's Sentinel-1 truth, and how an S1 output compares with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from demo_archive import s1 as demo_s1
from loaders.grid import Grid


def block_means(image: np.ndarray, side: int = 10) -> np.ndarray:
    """Means of ``side`` x ``side`` blocks of ``image`` (its last rows and columns that do not
    fill a block left out)."""
    rows, columns = image.shape[0] // side, image.shape[1] // side
    whole = image[: rows * side, : columns * side]
    return whole.reshape(rows, side, columns, side).mean(axis=(1, 3))


def truth_on_grid(archive: Path, centre: tuple[float, float], grid: Grid) -> np.ndarray:
    """The flat-terrain gamma0 truth (VV, VH) of the tile's cell on ``grid``; NaN where the
    grid reaches beyond the truth, which covers the tile's box."""
    truth = np.full((2, grid.height, grid.width), np.nan, np.float32)
    with rasterio.open(demo_s1.truth_path(archive, demo_s1.cell_of(*centre))) as src:
        reproject(
            src.read(),
            truth,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    return truth


def truth_errors_db(
    s1: np.ndarray, qa: dict, archive: Path, centre: tuple[float, float], grid: Grid
) -> dict[tuple[int, int], np.ndarray]:
    """By (quarter, polarisation), the dB errors of 10 x 10 pixel block means of an S1 output
    against the truth times the median seasonal factor of the quarter's scenes, over the
    blocks the truth covers."""
    truth = truth_on_grid(archive, centre, grid)
    cell = demo_s1.cell_of(*centre)
    listing = json.loads(demo_s1.truth_scenes_path(archive, cell, 2023).read_text())
    season = {scene["item"]: scene["seasonal_factor"] for scene in listing}
    errors = {}
    for q, quarter in enumerate(qa["quarters"]):
        factor = np.median([season[scene["item"]] for scene in quarter["scenes"]])
        for p in range(2):
            expected = block_means(truth[p] * factor)
            known = np.isfinite(expected)
            assert known.mean() > 0.95, f"the truth covers {known.mean():.0%} of the tile"
            blocks = block_means(s1[3 * q, ..., p].astype(np.float64) / 65535)
            errors[q, p] = 10 * np.log10(blocks[known] / expected[known])
    return errors
