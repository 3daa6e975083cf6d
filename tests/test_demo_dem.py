"""The demo archive's DEM part: terrain that behaves like terrain, and cells shaped like GLO-30."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from demo_archive import dem
from demo_archive.dem import ELEVATION_QUANTUM_M, OMITTED_PROPERTIES, dem_item, write_dem_cell
from demo_archive.terrain import elevation, surface
from loaders.copdem import CELL_ROWS, cell_columns, cell_id, cell_transform
from loaders.dem import metres_per_degree, slope_degrees

REFERENCE = Path(__file__).parent / "fixtures/reference"
REFERENCE_ITEM = json.loads((REFERENCE / "cop-dem-glo-30-item.json").read_text())
ARCSEC = 1 / 3600
#: The cell the demo tiles lie in.
DEMO_CELL = (6, -2)


def grid(west: float, north: float, rows: int, cols: int | None = None, step: float = ARCSEC):
    """A row of longitudes and a column of latitudes, ``step`` degrees apart."""
    cols = rows if cols is None else cols
    return west + np.arange(cols)[None, :] * step, north - np.arange(rows)[:, None] * step


def slope(z: np.ndarray, lat: float) -> np.ndarray:
    """Slope in degrees of 1 arc-second elevation (border dropped), as the DEM loader has it."""
    lon_m, lat_m = metres_per_degree(lat)
    return slope_degrees(z.astype(np.float64), dx_m=ARCSEC * lon_m, dy_m=ARCSEC * lat_m)


def write_cell(root):
    """Write the demo cell the way the workflow lays the archive out; (COG, item) paths."""
    name = cell_id(*DEMO_CELL)
    tif = root / f"copernicus-dem-30m/{name}/{name}.tif"
    item = root / f"stac/cop-dem-glo-30/{name}.json"
    write_dem_cell(*DEMO_CELL, tif, item)
    return tif, item


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    return write_cell(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def cell_pixels(cell):
    with rasterio.open(cell[0]) as src:
        return src.read(1)


@pytest.fixture(scope="module")
def lake_window(cell_pixels):
    """Row and column slices of the demo cell around its largest flat patch (a lake), with a
    margin."""
    z = cell_pixels
    centre = z[1:-1, 1:-1]
    flat = (centre == z[:-2, 1:-1]) & (centre == z[2:, 1:-1])
    flat &= (centre == z[1:-1, :-2]) & (centre == z[1:-1, 2:])
    labels, count = ndimage.label(flat)
    assert count, "no flat patch at all in the demo cell"
    biggest = np.bincount(labels.ravel())[1:].argmax() + 1
    rows, cols = ndimage.find_objects((labels == biggest).astype(int))[0]
    margin = 40
    return (
        slice(max(rows.start + 1 - margin, 0), rows.stop + 1 + margin),
        slice(max(cols.start + 1 - margin, 0), cols.stop + 1 + margin),
    )


# --- The terrain function ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "west", "north", "rows", "cols"),
    [
        pytest.param("lat 7", -1.4, 7 + 60 * ARCSEC, 120, 720, id="lat 7"),
        pytest.param("lon -1", -1 - 60 * ARCSEC, 6.9, 720, 120, id="lon -1"),
    ],
)
def test_terrain_has_no_step_at_cell_edges(name, west, north, rows, cols):
    # Steps between neighbours that straddle the degree line are no larger than elsewhere.
    lons, lats = grid(west, north, rows, cols)
    z = elevation(lons, lats).astype(np.float64)
    if name == "lat 7":
        steps = np.abs(np.diff(z, axis=0))
        across = steps[np.isclose(lats[:-1, 0], 7 + ARCSEC)]
    else:
        steps = np.abs(np.diff(z, axis=1)).T
        across = steps[np.isclose(lons[0, :-1], -1 - ARCSEC)]
    assert across.size == max(rows, cols)
    assert across.max() <= steps.max()
    assert np.percentile(across, 90) <= 2 * np.percentile(steps, 90)


def test_terrain_is_continuous_across_lines_of_the_noise_and_lake_lattices():
    # Degree lines, lake squares (1/4 degree) and the antimeridian, sampled densely along
    # each line: a hair to either side, the elevation barely changes.
    along = np.linspace(-0.8, 0.8, 4001)
    eps = 1e-9
    for lon in (-1.0, -1.25, -1.5, 180.0):
        left = elevation(np.full_like(along, lon - eps), 6.5 + along)
        right = elevation(np.full_like(along, lon + eps - (360 if lon == 180 else 0)), 6.5 + along)
        assert np.abs(left - right).max() < 0.01, lon
    for lat in (6.0, 6.25, 7.0):
        below = elevation(-1.5 + along, np.full_like(along, lat - eps))
        above = elevation(-1.5 + along, np.full_like(along, lat + eps))
        assert np.abs(below - above).max() < 0.01, lat


def test_terrain_has_no_jumps_around_lakes(lake_window):
    # Sampled four times finer, smooth ground shows steps about four times smaller; a jump
    # (a lake's shore cut off, say) keeps its full height however fine the sampling.
    rows, cols = lake_window
    west = DEMO_CELL[1] + cols.start * ARCSEC
    north = DEMO_CELL[0] + 1 - rows.start * ARCSEC

    def max_step(step: float) -> float:
        n_rows, n_cols = (round((s.stop - s.start - 1) * ARCSEC / step) for s in (rows, cols))
        z = elevation(*grid(west, north, n_rows, n_cols, step)).astype(np.float64)
        return max(np.abs(np.diff(z, axis=0)).max(), np.abs(np.diff(z, axis=1)).max())

    assert max_step(ARCSEC / 4) < 0.5 * max_step(ARCSEC)


def test_terrain_is_bit_identical_between_calls():
    lons, lats = grid(-1.7, 6.7, 300)
    assert elevation(lons, lats).tobytes() == elevation(lons.copy(), lats.copy()).tobytes()


def test_grid_and_scattered_points_give_the_same_bits(lake_window):
    # Grids take a faster path; any set of points, in any order, must agree with it exactly,
    # lakes included.
    rows, cols = lake_window
    lons = DEMO_CELL[1] + np.arange(cols.start, cols.stop)[None, :] * ARCSEC
    lats = DEMO_CELL[0] + 1 - np.arange(rows.start, rows.stop)[:, None] * ARCSEC
    on_grid = surface(lons, lats)
    assert on_grid.water.any()
    points_lon, points_lat = (a.ravel() for a in np.broadcast_arrays(lons, lats))
    order = np.random.default_rng(0).permutation(points_lon.size)
    scattered = surface(points_lon[order], points_lat[order])
    assert scattered.elevation.tobytes() == on_grid.elevation.ravel()[order].tobytes()
    assert np.array_equal(scattered.water, on_grid.water.ravel()[order])


def test_terrain_rejects_impossible_coordinates():
    with pytest.raises(ValueError, match="latitudes"):
        elevation(np.array([0.0]), np.array([90.5]))
    with pytest.raises(ValueError, match="finite"):
        elevation(np.array([np.nan]), np.array([0.0]))


# --- The demo cell: terrain variety --------------------------------------------------------------


def test_demo_cell_has_plains_hills_and_steep_ground(cell_pixels):
    z = cell_pixels
    assert np.isfinite(z).all()
    assert z.min() > 0 and z.max() < 1600, "elevations far outside 0-1500 m"
    degrees = slope(z, DEMO_CELL[0] + 0.5)
    assert (degrees < 2).mean() > 0.2, "too little flat ground"
    assert (degrees > 10).mean() > 0.05, "too little hilly ground"
    assert (degrees > 30).any(), "no steep ground at all"
    assert (degrees < 30).mean() > 0.99, "too much steep ground"


def test_demo_cell_has_lakes_with_flat_water(cell_pixels, lake_window):
    rows, cols = lake_window
    z = cell_pixels[rows, cols]
    lons = DEMO_CELL[1] + np.arange(cols.start, cols.stop)[None, :] * ARCSEC
    lats = DEMO_CELL[0] + 1 - np.arange(rows.start, rows.stop)[:, None] * ARCSEC
    water = surface(lons, lats).water
    labels, count = ndimage.label(water)
    sizes = np.bincount(labels.ravel())[1:]
    assert count >= 1 and sizes.max() > 300, "no lake of at least a quarter square kilometre"
    for lake in range(1, count + 1):
        assert np.unique(z[labels == lake]).size == 1, "a lake surface is not flat"
    # Water is the lowest ground around it: the land next to a lake is not below its level.
    biggest = labels == sizes.argmax() + 1
    shore = ndimage.binary_dilation(biggest, iterations=3) & ~water
    assert np.median(z[shore]) >= z[biggest][0]


# --- The written cell --------------------------------------------------------------------------


def test_cell_is_a_glo30_shaped_cog(cell):
    tif, _ = cell
    lat_floor, lon_floor = DEMO_CELL
    with rasterio.open(tif) as src:
        assert src.driver == "GTiff" and src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert (src.height, src.width, src.count) == (CELL_ROWS, cell_columns(lat_floor), 1)
        assert src.dtypes == ("float32",) and src.crs.to_epsg() == 4326 and src.nodata is None
        assert src.transform == cell_transform(lat_floor, lon_floor)
        assert src.tags()["AREA_OR_POINT"] == "Point"
        assert src.profile["tiled"] and src.block_shapes == [(1024, 1024)]
        assert src.compression.name == "deflate"
        assert src.overviews(1) == [2, 4, 8]
        window = src.read(1, window=((0, 300), (0, 300)))
    # Pixel centres at whole arc-seconds from the north-west corner, rounded to the quantum.
    expected = elevation(*grid(lon_floor, lat_floor + 1, 300))
    assert np.abs(window - expected).max() <= ELEVATION_QUANTUM_M / 2
    assert np.array_equal(np.round(window / ELEVATION_QUANTUM_M) * ELEVATION_QUANTUM_M, window)


def test_cell_files_are_byte_identical_when_made_again(cell, tmp_path):
    again = write_cell(tmp_path)
    for first, second in zip(cell, again, strict=True):
        assert (
            hashlib.sha256(first.read_bytes()).digest()
            == hashlib.sha256(second.read_bytes()).digest()
        ), first.name
    # Nothing else is left behind (no temporary files).
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(again)


def test_item_has_the_earth_search_shape_and_agrees_with_the_cog(cell):
    tif, item_path = cell
    item = json.loads(item_path.read_text())
    assert list(item) == list(REFERENCE_ITEM)
    assert set(item["properties"]) == set(REFERENCE_ITEM["properties"]) - OMITTED_PROPERTIES
    assert item["assets"]["data"] | {"href": None} == REFERENCE_ITEM["assets"]["data"] | {
        "href": None
    }
    assert item["id"] == cell_id(*DEMO_CELL) and item["collection"] == "cop-dem-glo-30"
    assert item["properties"]["grid:code"] == "CDEM-N06W002"
    assert item["stac_extensions"] == REFERENCE_ITEM["stac_extensions"]
    assert not any("http" in link["href"] for link in item["links"])
    href = item["assets"]["data"]["href"]
    assert not href.startswith("/") and (item_path.parent / href).resolve() == tif.resolve()
    with rasterio.open(tif) as src:
        assert item["properties"]["proj:shape"] == [src.height, src.width]
        assert item["properties"]["proj:transform"] == list(src.transform)[:6]
        assert item["bbox"] == pytest.approx(list(src.bounds), abs=1e-12)
    west, south, east, north = item["bbox"]
    ring = item["geometry"]["coordinates"][0]
    assert sorted(map(tuple, ring[:4])) == sorted(
        [(west, south), (west, north), (east, south), (east, north)]
    )


def test_item_of_a_polar_cell_matches_the_real_one():
    # The reference is a real Earth Search item of the narrowest cells (360 columns).
    item = dem_item(-90, -180, "x.tif")
    real = REFERENCE_ITEM["properties"]
    assert item["id"] == REFERENCE_ITEM["id"]
    for key in ("proj:shape", "proj:centroid", "grid:code", "gsd", "proj:epsg", "datetime"):
        assert item["properties"][key] == real[key], key
    assert item["properties"]["proj:transform"] == pytest.approx(real["proj:transform"])
    assert item["bbox"] == pytest.approx(REFERENCE_ITEM["bbox"])
    assert np.allclose(item["geometry"]["coordinates"], REFERENCE_ITEM["geometry"]["coordinates"])


def test_a_failed_write_leaves_neither_file(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dem, "cell_elevation", lambda lat, lon: np.zeros((3600, 3600), "f4"))
    monkeypatch.setattr("rasterio.shutil.copy", fail)
    with pytest.raises(OSError, match="disk full"):
        write_dem_cell(*DEMO_CELL, tmp_path / "cell.tif", tmp_path / "cell.json")
    assert list(tmp_path.iterdir()) == []
