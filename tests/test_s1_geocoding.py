"""Placing the tile's pixels in a Sentinel-1 image with the ground's heights, against the demo
generator, which images each point of its terrain where its height puts it."""

from pathlib import Path

import numpy as np
import pytest

from demo_archive import s1 as demo
from demo_archive.geoid import undulation, write_geoid
from demo_archive.terrain import elevation
from loaders import s1
from loaders.geoid import tile_undulation
from loaders.grid import tile_grid
from loaders.s1_source import image_coordinates
from loaders.tiles import Tile

REFERENCE = Path(__file__).parent / "fixtures/reference"

#: The first demo tile: hills of a few hundred metres (slopes up to ~30 degrees).
TILE = Tile(2023, 1655, 1083, -1.6944, 6.6389)


def test_ground_above_the_grids_heights_is_imaged_nearer_the_sensor():
    height = np.array([250.0, 350.0, 150.0])
    shift = s1.relief_shift_px(height, np.full(3, 250.0), np.full(3, 39.0), 10.0)
    # 100 m up at 39 degrees: 100 / tan(39) = 123.5 m of ground range, 12.35 pixels of 10 m.
    np.testing.assert_allclose(shift, [0.0, 12.349, -12.349], atol=1e-3)


@pytest.fixture(scope="module")
def geoid_grid(tmp_path_factory) -> str:
    """The demo archive's geoid grid, written as the archive writes it."""
    return str(write_geoid(tmp_path_factory.mktemp("geoid")))


@pytest.mark.parametrize("pass_direction", sorted(demo.HEADING_DEG))
def test_each_pixel_is_looked_for_where_the_scene_shows_its_ground(pass_direction, geoid_grid):
    lons, lats = tile_grid(TILE).pixel_lonlat()
    dem_heights = elevation(lons, lats).astype(np.float64)  # above the geoid, as GLO-30's
    scenes = demo.s1_scenes(TILE.year, TILE.lon, TILE.lat)
    scene = next(s for s in scenes if s.pass_direction == pass_direction)
    geolocation = s1.parse_geolocation(demo.product_xml(scene, "vv"))
    grid = demo.radar_grid(scene.cell, pass_direction)
    truth = demo.imaged_position(grid, lons, lats, dem_heights + undulation(lons, lats))

    heights = dem_heights + tile_undulation(geoid_grid, lons, lats)
    lines, pixels = image_coordinates(geolocation, lons, lats, heights)
    error = np.hypot(lines - truth[0], pixels - truth[1])
    assert np.median(error) <= 0.5 and np.percentile(error, 99) <= 1.0

    # Placed as if at the geolocation grid's heights, the same pixels miss their ground.
    flat_lines, flat_pixels = image_coordinates(geolocation, lons, lats)
    flat_error = np.hypot(flat_lines - truth[0], flat_pixels - truth[1])
    assert np.median(flat_error) > 0.5 and np.percentile(flat_error, 95) > 2

    # With the DEM's heights alone, all of them miss by N / tan(incidence): the geoid here is
    # ~9 m above the ellipsoid, about a pixel in range.
    dem_lines, dem_pixels = image_coordinates(geolocation, lons, lats, dem_heights)
    dem_error = np.hypot(dem_lines - truth[0], dem_pixels - truth[1])
    assert np.percentile(dem_error, 5) > 0.8


def test_slopes_steeper_than_the_beam_are_flagged_as_layover_or_shadow():
    # Looking east (90) at 35 degrees: slopes facing west (aspect 270) face the sensor.
    slope = np.array([10.0, 40.0, 40.0, 60.0, 50.0])
    aspect = np.array([270.0, 270.0, 90.0, 90.0, 0.0])
    layover, shadow = s1.layover_and_shadow(np.full(5, 35.0), slope, aspect, 90.0)
    assert layover.tolist() == [False, True, False, False, False]
    # Facing away at 60 degrees: 35 + 60 > 90, hidden; at 40: 75, still lit. Across the look
    # direction (aspect 0) a slope tilts neither way.
    assert shadow.tolist() == [False, False, False, True, False]


def test_on_a_real_annotation_ground_at_the_grids_heights_stays_where_the_grid_puts_it():
    geolocation = s1.parse_geolocation(
        (REFERENCE / "s1-grd-product-annotation-vv.xml").read_bytes()
    )
    # Points between the grid's points, across the middle of the scene.
    middle = np.argsort(np.abs(geolocation.line - np.median(geolocation.line)))[:40]
    lons = np.linspace(geolocation.longitude[middle].min(), geolocation.longitude[middle].max(), 50)
    lats = np.full(50, np.median(geolocation.latitude[middle]))
    lines, pixels = image_coordinates(geolocation, lons, lats)
    assert np.isfinite(lines).all()
    (grid_heights,) = s1.grid_values_at(geolocation, (geolocation.height,), lines, pixels)
    flat = image_coordinates(geolocation, lons, lats, grid_heights)
    np.testing.assert_allclose(flat[0], lines)
    np.testing.assert_allclose(flat[1], pixels)
    # 100 m higher: nearer the sensor by 100 / tan(incidence) metres of ground range.
    raised = image_coordinates(geolocation, lons, lats, grid_heights + 100)
    (incidence,) = s1.grid_values_at(geolocation, (geolocation.incidence_angle,), lines, pixels)
    expected = 100 / np.tan(np.radians(incidence)) / geolocation.range_pixel_spacing
    np.testing.assert_allclose(pixels - raised[1], expected, rtol=1e-9)
    assert expected.min() > 9 and expected.max() < 18  # 31 to 46 degrees across the swath
