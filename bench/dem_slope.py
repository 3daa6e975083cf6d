"""DEM loader speed and memory, measured side by side in one run.

    .venv/bin/python bench/dem_slope.py

1. The pure core on one demo tile's arrays: ``loaders.dem.slope_degrees`` beside the same
   central-difference slope written as a per-pixel Python loop (how the old pipeline did it),
   on the same elevation grid (the tile's grid grown by one pixel); median of repeated runs,
   and their ratio.
2. The whole loader (``loaders.jobs.run_job`` of a DEM spec: window reads from a demo
   archive COG, bilinear resampling, slope, HKL write) in a fresh process: wall time and peak
   resident memory (VmHWM; imports of numpy, rasterio and hickle alone take ~80 MB of it).
"""

import math
import tempfile
from pathlib import Path

import numpy as np
from timing import loader_in_fresh_process, median_seconds

from demo_archive.dem import write_dem_cell
from demo_archive.terrain import elevation
from loaders import dem
from loaders.copdem import cell_id
from loaders.grid import tile_grid
from loaders.tiles import Tile

TILE = Tile(year=2023, x_tile=1655, y_tile=1083, lon=-1.6944, lat=6.6389)


def loop_slope(z: np.ndarray, dx_m: float, dy_m: float) -> np.ndarray:
    """The baseline: one Python iteration per output pixel."""
    rows, cols = z.shape[0] - 2, z.shape[1] - 2
    out = np.empty((rows, cols), dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            dz_dx = (z[i + 1, j + 2] - z[i + 1, j]) / (2 * dx_m)
            dz_dy = (z[i + 2, j + 1] - z[i, j + 1]) / (2 * dy_m)
            out[i, j] = max(math.degrees(math.atan(math.hypot(dz_dx, dz_dy))), dem.SLOPE_FLOOR_DEG)
    return out


def whole_loader(root: Path) -> dict:
    """Run the DEM job in a fresh process; its wall time and peak resident memory."""
    spec = {
        "product": "dem",
        "tile": TILE.__dict__,
        "outputs": {"dem": str(root / "out/dem.hkl")},
        "qa": str(root / "out/dem.json"),
        "dem_root": str(root / "copernicus-dem-30m"),
    }
    return loader_in_fresh_process(spec)


def main() -> None:
    grid = tile_grid(TILE)
    z = elevation(*grid.pixel_lonlat(border=1)).astype(np.float64)
    dx = dy = grid.ground_pixel_size()
    np.testing.assert_allclose(dem.slope_degrees(z, dx, dy), loop_slope(z, dx, dy), rtol=1e-5)
    vectorised = median_seconds(lambda: dem.slope_degrees(z, dx, dy), repeat=20)
    looped = median_seconds(lambda: loop_slope(z, dx, dy), repeat=3)
    print(
        f"slope of one tile {z.shape}: vectorised {vectorised * 1e3:.1f} ms, "
        f"per-pixel loop {looped * 1e3:.0f} ms, ratio {looped / vectorised:.0f}x"
    )

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        name = cell_id(6, -2)
        write_dem_cell(6, -2, root / f"copernicus-dem-30m/{name}/{name}.tif", root / "item.json")
        run = whole_loader(root)
    print(
        f"whole DEM loader, one tile: {run['seconds']:.2f} s wall with process start, "
        f"peak memory {run['peak_mb']} MB"
    )


if __name__ == "__main__":
    main()
