"""Sentinel-2 loader speed and memory, measured side by side in one run.

    .venv/bin/python bench/s2_loader.py

Uses the demo archive of the demo request (``resources/demo_archive``, generated on first use
like the workflow does) and its four tiles.

1. The pure core on that tile's arrays, read once from the archive: cloud fractions and the
   clean-day selection over the year's SCL stack at 640 m; the cirrus noise filter beside the
   same filter written as three nested Python loops (the old pipeline's); the reflectance
   encoding of the kept scenes' 10 m bands (a 65536-entry lookup table) beside the same
   arithmetic in float64. Median of repeated runs, and the ratios.
2. The whole loader (``loaders.jobs.run_job`` of an S2 spec: searches, window reads,
   decisions, six HKL files) in a fresh process per demo tile: wall time, CPU time and peak
   resident memory (VmHWM), with the number of kept scenes, since memory grows with them (the
   target: under 1.5 GB with 24 kept scenes, so that Lambda can run the tile at 2 GB).
"""

import tempfile
import time
from pathlib import Path

import numpy as np
from timing import DEMO_TILES, loader_in_fresh_process, median_seconds

from demo_archive.s2 import write_s2_archive
from loaders import s2
from loaders.catalog import Catalog, search
from loaders.s2_source import COLLECTION, acquisitions, read_asset, read_mosaics, tile_grids
from loaders.tiles import Tile

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "resources/demo_archive"
TILE = DEMO_TILES[0]


def loop_remove_isolated(mask: np.ndarray) -> np.ndarray:
    """The baseline: one Python iteration per pixel, counting its 8 neighbours."""
    out = np.zeros_like(mask)
    scenes, rows, cols = mask.shape
    for t in range(scenes):
        for i in range(rows):
            for j in range(cols):
                around = mask[t, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].sum()
                out[t, i, j] = mask[t, i, j] and around > 1
    return out


def float_reflectance(dn: np.ndarray, offset_dn: int) -> np.ndarray:
    """The baseline encoding: the same numbers through float64 arithmetic."""
    reflectance = np.clip((dn.astype(np.float64) - offset_dn) / 10000, 0, 1)
    return np.where(dn == 0, 0, np.floor(reflectance * 65535 + 0.5)).astype(np.uint16)


def tile_arrays() -> dict:
    """The arrays the core works on for TILE, read from the archive the way the S2 job reads
    them."""
    catalog = Catalog(path=str(ARCHIVE / "stac"))
    grids = tile_grids(TILE)
    cloud_bbox = s2.tile_cloud_bbox(TILE)
    items = search(
        catalog, COLLECTION, cloud_bbox, "2023-01-01/2023-12-31", {"eo:cloud_cover": {"lt": 50}}
    )
    days = acquisitions(items, cloud_bbox, TILE.lon)
    scl = read_mosaics(days, "scl", grids.clouds)
    global_cloud, local_cloud = s2.cloud_fractions(scl)
    selection = s2.select_clean_days([d.day for d in days], global_cloud, local_cloud)
    kept = [days[i] for i in selection.kept]
    scl_tile = read_mosaics(kept, "scl", grids.cirrus)
    dn = np.stack(
        [
            np.stack([read_asset(day.items[0], band, grids.bands_10m) for band in s2.BANDS_10M], -1)
            for day in kept
        ]
    )
    return {"scl": scl, "dates": [d.day for d in days], "cirrus": scl_tile == 10, "dn": dn}


def whole_loader(tile: Tile, out: Path) -> dict:
    names = ("s2_10", "s2_20", "s2_dates", "clouds", "cloudmask", "clean_steps")
    spec = {
        "product": "s2",
        "tile": tile.__dict__,
        "outputs": {name: str(out / f"{name}.hkl") for name in names},
        "qa": str(out / "s2.json"),
        "stac": {"path": str(ARCHIVE / "stac")},
    }
    return loader_in_fresh_process(spec)


def main() -> None:
    started = time.perf_counter()
    centres = [(tile.lon, tile.lat) for tile in DEMO_TILES]
    summary = write_s2_archive(ARCHIVE, 2023, centres, workers=2)
    print(
        f"demo archive, S2 part for the 4 demo tiles: {time.perf_counter() - started:.1f} s "
        f"({len(summary['granules_written'])} granules generated, "
        f"{len(summary['granules_skipped'])} already there)"
    )
    arrays = tile_arrays()
    scl, dn, cirrus = arrays["scl"], arrays["dn"], arrays["cirrus"]

    def core() -> None:
        global_cloud, local_cloud = s2.cloud_fractions(scl)
        s2.select_clean_days(arrays["dates"], global_cloud, local_cloud)

    print(
        f"clean days from {scl.shape} SCL at 640 m: {median_seconds(core, repeat=20) * 1e3:.1f} ms"
    )
    assert np.array_equal(s2.remove_isolated(cirrus), loop_remove_isolated(cirrus))
    vectorised = median_seconds(lambda: s2.remove_isolated(cirrus), repeat=20)
    looped = median_seconds(lambda: loop_remove_isolated(cirrus), repeat=3)
    print(
        f"cirrus noise filter on {cirrus.shape}: vectorised {vectorised * 1e3:.2f} ms, "
        f"per-pixel loop {looped * 1e3:.0f} ms, ratio {looped / vectorised:.0f}x"
    )
    assert np.array_equal(s2.reflectance_u16(dn, 1000), float_reflectance(dn, 1000))
    lookup = median_seconds(lambda: s2.reflectance_u16(dn, 1000), repeat=5)
    arithmetic = median_seconds(lambda: float_reflectance(dn, 1000), repeat=5)
    print(
        f"reflectance encoding of {dn.shape} DNs: lookup table {lookup * 1e3:.0f} ms, float64 "
        f"arithmetic {arithmetic * 1e3:.0f} ms, ratio {arithmetic / lookup:.1f}x"
    )
    for tile in DEMO_TILES:
        with tempfile.TemporaryDirectory() as scratch:
            run = whole_loader(tile, Path(scratch))
        run["scenes"] = run["result"]["qa"]["kept"]
        print(
            f"whole S2 loader, tile {tile.tag} with {run['scenes']} kept scenes: "
            f"{run['seconds']:.1f} s wall with process start, {run['cpu']:.1f} s CPU, "
            f"peak memory {run['peak_mb']} MB (target < 1536 MB)"
        )


if __name__ == "__main__":
    main()
