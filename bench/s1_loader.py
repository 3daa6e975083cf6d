"""Sentinel-1 loader speed and memory, measured side by side in one run.

    .venv/bin/python bench/s1_loader.py

Uses the demo archive of the demo request (``resources/demo_archive``, generated on first use
like the workflow does: the Sentinel-1 scenes and the DEM cell of the four demo tiles).

1. The pure core on one demo scene's window over the first tile: the calibration LUT
   interpolated onto the window (vectorised, beside a per-pixel Python loop doing the same
   bilinear interpolation), noise removal and calibration, placing the tile's pixels in the
   image with and without their heights (the terrain correction's cost is the difference),
   terrain flattening on the tile's grid, and the median composite of six scenes. Median of
   repeated runs, and the ratio.
2. The whole loader (``loaders.jobs.run_job`` of an S1 spec: search, annotations, window
   reads, calibration, resampling, flattening, composites, two HKL files) in a fresh process
   per demo tile: wall time, CPU time and peak resident memory (VmHWM), against the 1.5 GB
   target.
"""

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import DEMO_TILES, loader_in_fresh_process, median_seconds

from demo_archive.dem import write_dem_cell
from demo_archive.s1 import write_s1_archive
from demo_archive.terrain import elevation
from loaders import s1
from loaders.copdem import cell_id
from loaders.dem import slope_degrees
from loaders.grid import tile_grid
from loaders.s1_source import image_coordinates
from loaders.tiles import Tile
from ttc_ard.sources import demo_source_settings

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "resources/demo_archive"
DEM_CELL = (6, -2)


def loop_interpolate(lut: s1.CalibrationLUT, at_lines, at_pixels) -> np.ndarray:
    """The baseline: bilinear interpolation of the gamma LUT one output pixel at a time."""
    out = np.empty((len(at_lines), len(at_pixels)))
    for r, line in enumerate(at_lines):
        i = min(max(np.searchsorted(lut.lines, line, side="right") - 1, 0), len(lut.lines) - 2)
        u = (line - lut.lines[i]) / (lut.lines[i + 1] - lut.lines[i])
        for c, pixel in enumerate(at_pixels):
            j = np.searchsorted(lut.pixels, pixel, side="right") - 1
            j = min(max(j, 0), len(lut.pixels) - 2)
            v = (pixel - lut.pixels[j]) / (lut.pixels[j + 1] - lut.pixels[j])
            top = lut.gamma[i, j] * (1 - v) + lut.gamma[i, j + 1] * v
            bottom = lut.gamma[i + 1, j] * (1 - v) + lut.gamma[i + 1, j + 1] * v
            out[r, c] = top * (1 - u) + bottom * u
    return out


def whole_loader(tile: Tile, out: Path) -> dict:
    spec = {
        "product": "s1",
        "tile": tile.__dict__,
        "outputs": {"s1": str(out / "s1.hkl"), "s1_dates": str(out / "s1_dates.hkl")},
        "qa": str(out / "s1.json"),
    } | demo_source_settings("s1", str(ARCHIVE))
    return loader_in_fresh_process(spec)


def main() -> None:
    started = time.perf_counter()
    summary = write_s1_archive(ARCHIVE, 2023, [(t.lon, t.lat) for t in DEMO_TILES], workers=2)
    name = cell_id(*DEM_CELL)
    dem_cell = ARCHIVE / f"copernicus-dem-30m/{name}/{name}.tif"
    if not dem_cell.exists():
        write_dem_cell(*DEM_CELL, dem_cell, ARCHIVE / f"stac/cop-dem-glo-30/{name}.json")
    print(
        f"demo archive, S1 part for the 4 demo tiles: {time.perf_counter() - started:.1f} s "
        f"({summary['written']} scenes written, {summary['skipped']} already there)"
    )

    # One scene's annotations and a tile-sized window of its image.
    item_path = sorted((ARCHIVE / "stac/sentinel-1-grd").glob("*.json"))[0]
    product = json.loads(item_path.read_text())["assets"]["schema-calibration-vv"]["href"]
    annotation = (item_path.parent / product).resolve().parent
    calibration = s1.parse_calibration((annotation / "calibration-iw-vv.xml").read_bytes())
    noise = s1.parse_noise((annotation / "noise-iw-vv.xml").read_bytes())
    at_lines, at_pixels = np.arange(0, 640.0), np.arange(0, 640.0)
    dn = np.random.default_rng(0).integers(50, 400, (640, 640)).astype(np.uint16)

    assert np.allclose(
        s1.interpolate_lut(
            calibration.lines, calibration.pixels, calibration.gamma, at_lines[:40], at_pixels
        ),
        loop_interpolate(calibration, at_lines[:40], at_pixels),
    )
    vectorised = median_seconds(
        lambda: s1.interpolate_lut(
            calibration.lines, calibration.pixels, calibration.gamma, at_lines, at_pixels
        ),
        repeat=20,
    )
    looped = median_seconds(lambda: loop_interpolate(calibration, at_lines, at_pixels), repeat=1)
    print(
        f"calibration LUT onto a (640, 640) window: vectorised {vectorised * 1e3:.1f} ms, "
        f"per-pixel loop {looped * 1e3:.0f} ms, ratio {looped / vectorised:.0f}x"
    )

    def calibrate() -> np.ndarray:
        lut = s1.interpolate_lut(
            calibration.lines, calibration.pixels, calibration.gamma, at_lines, at_pixels
        )
        return s1.gamma0(dn, lut, s1.thermal_noise(noise, at_lines, at_pixels))

    print(
        f"noise removal and calibration of the window: {median_seconds(calibrate, 10) * 1e3:.1f} ms"
    )
    geolocation = s1.parse_geolocation((annotation.parent / "iw-vv.xml").read_bytes())
    grid = tile_grid(DEMO_TILES[0])
    lons, lats = grid.pixel_lonlat()
    heights = elevation(lons, lats).astype(np.float64)
    located = median_seconds(lambda: image_coordinates(geolocation, lons, lats), repeat=5)
    with_heights = median_seconds(
        lambda: image_coordinates(geolocation, lons, lats, heights), repeat=5
    )
    print(
        f"placing the {grid.height} x {grid.width} tile in a scene: {located * 1e3:.0f} ms at "
        f"the geolocation grid's heights, {with_heights * 1e3:.0f} ms with the terrain "
        f"correction (+{(with_heights - located) * 1e3:.0f} ms per scene and polarisation)"
    )

    rng = np.random.default_rng(1)
    shape = (grid.height, grid.width)
    random_walk = np.cumsum(rng.normal(0, 2, (shape[0] + 2, shape[1] + 2)), axis=0)
    size_m = grid.ground_pixel_size()
    slope, aspect = (
        slope_degrees(random_walk, size_m, size_m),
        s1.aspect_degrees(random_walk, size_m, size_m),
    )
    gamma0 = rng.gamma(4.4, 0.1 / 4.4, shape).astype(np.float32)
    incidence = np.full(shape, 39.0, np.float32)
    flatten = median_seconds(
        lambda: s1.flatten_gamma0(gamma0, incidence, slope, aspect, 282.0), repeat=10
    )
    stack = rng.gamma(4.4, 0.1 / 4.4, (6, *shape)).astype(np.float32)
    composite = median_seconds(lambda: s1.median_composite(stack), repeat=10)
    print(
        f"terrain flattening of a {shape} tile: {flatten * 1e3:.1f} ms; "
        f"median composite of 6 scenes: {composite * 1e3:.1f} ms"
    )

    for tile in DEMO_TILES:
        with tempfile.TemporaryDirectory() as scratch:
            run = whole_loader(tile, Path(scratch))
        run["scenes"] = run["result"]["qa"]["scenes_used"]
        print(
            f"whole S1 loader, tile {tile.tag} with {run['scenes']} scenes composited: "
            f"{run['seconds']:.1f} s wall with process start, {run['cpu']:.1f} s CPU, "
            f"peak memory {run['peak_mb']} MB (target < 1536 MB)"
        )


if __name__ == "__main__":
    main()
