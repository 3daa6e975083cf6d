"""The demo archive's Sentinel-1 part: scenes planned like Sentinel-1's orbits, annotations the
loader's parsers read back to the generator's own LUTs, and pixels that calibrate back to the
truth they were made from."""

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage
from shapely.geometry import Polygon, box

from demo_archive import s1 as demo
from demo_archive.s1 import archive, calibration
from demo_archive.weather import FOREST, LAKE
from loaders import s1
from loaders.tiles import tile_bbox

REFERENCE = Path(__file__).parent / "fixtures/reference"
REFERENCE_ITEM = json.loads((REFERENCE / "s1-grd-v1-item.json").read_text())
#: The first demo tile's centre, and the year of the demo request.
DEMO_TILE = (-1.6944, 6.6389)
YEAR = 2023


@pytest.fixture(scope="module")
def scenes():
    return demo.s1_scenes(YEAR, *DEMO_TILE)


@pytest.fixture(scope="module")
def written(tmp_path_factory, scenes):
    """An archive holding the first scene of each pass and the partial one; scene -> item."""
    root = tmp_path_factory.mktemp("archive")
    picked = [next(s for s in scenes if s.pass_direction == p) for p in demo.HEADING_DEG]
    picked.append(next(s for s in scenes if s.partial))
    return root, {scene: demo.write_scene(root, scene) for scene in picked}


def read_annotations(item_path, pol="vv"):
    """(calibration, noise, geolocation) of an item's scene, found through the item."""
    item = json.loads(item_path.read_text())
    folder = item_path.parent / item["assets"][pol]["href"].rsplit("/measurement/", 1)[0]
    return (
        s1.parse_calibration(
            (folder / f"annotation/calibration/calibration-iw-{pol}.xml").read_bytes()
        ),
        s1.parse_noise((folder / f"annotation/calibration/noise-iw-{pol}.xml").read_bytes()),
        s1.parse_geolocation((folder / f"annotation/iw-{pol}.xml").read_bytes()),
    )


# --- The plan -----------------------------------------------------------------------------


def test_each_pass_revisits_every_12_days_on_one_relative_orbit(scenes):
    for pass_direction in demo.HEADING_DEG:
        mine = [s for s in scenes if s.pass_direction == pass_direction]
        assert {s.relative_orbit for s in mine} == {mine[0].relative_orbit}
        assert {s.platform for s in mine} == {"S1A"}, "S1B ended in December 2021"
        for a, b in zip(mine, mine[1:], strict=False):
            gap = (b.centre_time - a.centre_time) / dt.timedelta(days=12)
            assert gap == round(gap) and (b.absolute_orbit - a.absolute_orbit) == 175 * gap
            # The real numbering: relative orbit = (absolute - 73) % 175 + 1.
            assert b.relative_orbit == (b.absolute_orbit - 73) % 175 + 1
        # Local solar time: about 18:00 ascending, 06:00 descending.
        local = mine[0].centre_time + dt.timedelta(hours=DEMO_TILE[0] / 15)
        assert (
            abs(local.hour + local.minute / 60 - (18 if pass_direction == "ascending" else 6)) < 1
        )


def test_s1b_flies_the_same_tracks_six_days_later_before_2022():
    scenes = demo.s1_scenes(2020, *DEMO_TILE)
    for pass_direction in demo.HEADING_DEG:
        a = [s for s in scenes if s.pass_direction == pass_direction and s.platform == "S1A"]
        b = [s for s in scenes if s.pass_direction == pass_direction and s.platform == "S1B"]
        assert len(a) > 20 and len(b) > 20
        assert {s.relative_orbit for s in a} == {s.relative_orbit for s in b}
        assert (b[0].centre_time - a[0].centre_time) % dt.timedelta(days=12) == dt.timedelta(6)
        assert b[0].relative_orbit == (b[0].absolute_orbit - 27) % 175 + 1


def test_product_ids_follow_the_real_scheme_and_are_unique():
    # Cells of one datatake side by side share their times: a swath's width of them (and
    # the rows above and below) still get distinct item ids.
    ids = [
        demo.item_id(s)
        for dx in range(45)
        for dy in range(3)
        for s in demo.s1_scenes(YEAR, DEMO_TILE[0] + dx / 18, DEMO_TILE[1] + dy / 18)
    ]
    assert len(set(ids)) == len(ids)
    name = demo.product_id(demo.s1_scenes(YEAR, *DEMO_TILE)[0])
    assert len(name) == len(REFERENCE_ITEM["properties"]["s1:product_identifier"])
    platform, mode, product, kind, start, stop, orbit, datatake, crc = name.split("_")
    assert (platform, mode, product, kind) == ("S1A", "IW", "GRDH", "1SDV") and start < stop
    assert int(datatake, 16) > 0 and len(orbit) == 6 and len(crc) == 4


def test_the_partial_quarter_has_a_single_scene_covering_part_of_the_tile(scenes):
    quarter, pass_direction = demo.partial_quarter(YEAR, demo.cell_of(*DEMO_TILE))
    in_quarter = [s for s in scenes if s1.quarter_of(s.centre_time, YEAR) == quarter]
    assert len(in_quarter) == 1 and in_quarter[0].partial
    assert in_quarter[0].pass_direction == pass_direction
    assert all(s1.quarter_of(s.centre_time, YEAR) != quarter for s in scenes if not s.partial)
    # The other quarters have several full scenes of both passes.
    for q in set(range(4)) - {quarter}:
        mine = [s for s in scenes if s1.quarter_of(s.centre_time, YEAR) == q]
        assert len(mine) >= 8 and {s.pass_direction for s in mine} == set(demo.HEADING_DEG)
    # Neighbouring cells' scenes overlap the tile's edges (like adjacent slices); all
    # together, that quarter's scenes still leave part of the tile uncovered.
    tile = box(*(lambda b: (b.west, b.south, b.east, b.north))(tile_bbox(*DEMO_TILE)))
    covered = Polygon()
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            around = demo.s1_scenes(YEAR, DEMO_TILE[0] + dx / 18, DEMO_TILE[1] + dy / 18)
            for s in around:
                if s1.quarter_of(s.centre_time, YEAR) == quarter:
                    covered = covered.union(Polygon(demo.footprint(s)))
    fraction = tile.intersection(covered).area / tile.area
    assert 0.2 < fraction < 0.9
    # A full scene covers the whole tile.
    full = next(s for s in scenes if not s.partial)
    assert Polygon(demo.footprint(full)).contains(tile)


def test_which_scenes_exist_does_not_depend_on_the_point_asked():
    cell = demo.cell_of(*DEMO_TILE)
    west, south, east, north = demo.cell_bounds(cell)
    corner = demo.s1_scenes(YEAR, west + 1e-6, north - 1e-6)
    assert corner == demo.s1_scenes(YEAR, *DEMO_TILE)


# --- Annotations and measurements ---------------------------------------------------------


def test_the_loader_parses_the_annotations_and_the_luts_cover_the_image(written):
    root, items = written
    for scene, item_path in items.items():
        grid = demo.radar_grid(scene.cell, scene.pass_direction)
        cal, noise, geo = read_annotations(item_path)
        assert (geo.number_of_lines, geo.number_of_samples) == (grid.lines, grid.samples)
        assert geo.pass_direction == scene.pass_direction
        assert geo.platform_heading == demo.HEADING_DEG[scene.pass_direction]
        assert len(geo.line) == 10 * 21
        assert cal.lines[0] == 0 and cal.lines[-1] >= grid.lines - 1
        assert cal.pixels[0] == 0 and cal.pixels[-1] == grid.samples - 1
        assert cal.gamma.shape == (len(cal.lines), len(cal.pixels))
        assert cal.beta_nought.min() == cal.beta_nought.max() == demo.BETA_NOUGHT
        # The real files' relations: sigma0 = beta0 sin(theta), gamma0 = sigma0 / cos(theta).
        theta = np.radians(grid.incidence(cal.pixels))
        assert np.allclose(cal.sigma_nought**2, cal.beta_nought**2 / np.sin(theta), rtol=1e-5)
        assert np.allclose(cal.gamma**2, cal.sigma_nought**2 * np.cos(theta), rtol=1e-5)
        assert noise.range_lines[-1] == grid.lines - 1
        assert all(p[-1] == grid.samples - 1 for p in noise.range_pixels)
        assert 200 < min(v.min() for v in noise.range_values) < 2500
        assert noise.azimuth_blocks, "IPF 2.90 and later have azimuth noise vectors"
        assert sum(b.last_sample - b.first_sample + 1 for b in noise.azimuth_blocks) == (
            grid.samples
        )


def test_the_loader_reads_the_annotations_back_to_the_generators_own_luts(scenes):
    scene = scenes[0]
    sim = demo.simulate(scene)
    grid = sim.grid
    lines, pixels = np.arange(grid.lines), np.arange(grid.samples)
    own = calibration.calibration(grid)
    fields = {
        "sigmaNought": "sigma_nought",
        "betaNought": "beta_nought",
        "gamma": "gamma",
        "dn": "dn",
    }
    for pol in demo.POLARISATIONS:
        cal = s1.parse_calibration(sim.documents[f"calibration/calibration-iw-{pol}.xml"])
        np.testing.assert_array_equal(cal.lines, own.lines)
        np.testing.assert_array_equal(cal.pixels, own.pixels)
        for tag, field in fields.items():
            np.testing.assert_array_equal(getattr(cal, field), own.luts[tag], err_msg=tag)
        own_noise = calibration.noise(grid, pol, azimuth_vectors=True)
        noise = s1.parse_noise(sim.documents[f"calibration/noise-iw-{pol}.xml"])
        np.testing.assert_array_equal(noise.range_lines, own_noise.lines)
        assert all(np.array_equal(p, own_noise.pixels) for p in noise.range_pixels)
        np.testing.assert_array_equal(np.stack(noise.range_values), own_noise.range_values)
        assert len(noise.azimuth_blocks) == len(own_noise.azimuth)
        for block, own_block in zip(noise.azimuth_blocks, own_noise.azimuth, strict=True):
            assert (block.swath, block.first_sample, block.last_sample) == (
                own_block.swath,
                own_block.first_sample,
                own_block.last_sample,
            )
            assert (block.first_line, block.last_line) == (0, grid.lines - 1)
            np.testing.assert_array_equal(block.lines, own_block.lines)
            np.testing.assert_array_equal(block.values, own_block.values)
        # And the loader's interpolation puts them on the image as the generator did.
        np.testing.assert_allclose(
            s1.interpolate_lut(cal.lines, cal.pixels, cal.gamma, lines, pixels),
            calibration.gamma_on_image(own, grid),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            s1.thermal_noise(noise, lines, pixels),
            calibration.noise_on_image(own_noise, grid),
            rtol=1e-12,
        )


def test_the_generator_renders_without_the_loaders_parsers():
    # A parser bug must not reach the pixels the parser is tested against.
    code = "import sys, demo_archive.s1; assert 'loaders.s1' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scenes_before_ipf_290_have_the_old_noise_layout():
    old = demo.s1_scenes(2017, *DEMO_TILE)[0]
    noise = demo.simulate(old).documents["calibration/noise-iw-vv.xml"]
    assert b"<noiseVectorList" in noise and b"noiseAzimuthVectorList" not in noise
    assert not s1.parse_noise(noise).azimuth_blocks
    assert demo.ipf_version(old.centre_time.date()) < "002.90"


def test_tiff_gcps_are_the_geolocation_grid(written):
    _, items = written
    for item_path in items.values():
        _, _, geo = read_annotations(item_path)
        item = json.loads(item_path.read_text())
        with rasterio.open(item_path.parent / item["assets"]["vh"]["href"]) as src:
            gcps, crs = src.gcps
            assert crs.to_epsg() == 4326 and src.crs is None
            assert src.dtypes == ("uint16",) and src.nodata == 0
            assert src.block_shapes == [(512, 512)] and src.compression.name == "deflate"
            assert src.overviews(1) and src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        got = np.array([[g.row, g.col, g.y, g.x, g.z] for g in gcps])
        want = np.stack([geo.line, geo.pixel, geo.latitude, geo.longitude, geo.height], axis=1)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_radar_geometry_runs_along_the_track_and_looks_right(written):
    _, items = written
    for scene, item_path in items.items():
        _, _, geo = read_annotations(item_path)
        first = (geo.line == 0) & (geo.pixel == 0)
        down = (geo.line == geo.line.max()) & (geo.pixel == 0)
        across = (geo.line == 0) & (geo.pixel == geo.pixel.max())
        north = geo.latitude[down] - geo.latitude[first]
        east = geo.longitude[across] - geo.longitude[first]
        # Ascending: lines go north, pixels east (looking east); descending the opposite.
        sign = 1 if scene.pass_direction == "ascending" else -1
        assert sign * north > 0 and sign * east > 0
        assert geo.incidence_angle[across] > geo.incidence_angle[first]
        assert geo.incidence_angle.min() > 30 and geo.incidence_angle.max() < 46


def test_calibrating_the_dn_gives_back_the_speckled_gamma0(scenes):
    for scene in [scenes[0], next(s for s in scenes if s.partial)]:
        sim = demo.simulate(scene)
        lines, pixels = np.arange(sim.grid.lines), np.arange(sim.grid.samples)
        for pol in demo.POLARISATIONS:
            cal = s1.parse_calibration(sim.documents[f"calibration/calibration-iw-{pol}.xml"])
            noise = s1.parse_noise(sim.documents[f"calibration/noise-iw-{pol}.xml"])
            lut = s1.interpolate_lut(cal.lines, cal.pixels, cal.gamma, lines, pixels)
            back = s1.gamma0(sim.dn[pol], lut, s1.thermal_noise(noise, lines, pixels))
            truth = sim.gamma0[pol]
            assert np.array_equal(np.isnan(back), np.isnan(truth))
            valid = ~np.isnan(truth)
            # Rounding DN to an integer moves DN^2 by at most DN + 1/4.
            error = np.abs(back[valid].astype(np.float64) - truth[valid]) * lut[valid] ** 2
            assert (error <= sim.dn[pol][valid] + 0.75).all()
            assert np.median(sim.dn[pol][valid]) > 50, "DN in the real files' range"


def test_flattening_the_truth_recovers_the_forest_gamma0(scenes):
    for pass_direction in demo.HEADING_DEG:
        scene = next(s for s in scenes if s.pass_direction == pass_direction)
        grid = demo.radar_grid(scene.cell, pass_direction)
        fields = demo.cell_fields(scene.cell)
        season = demo.seasonal_factor(scene.centre_time.date(), grid.centre_lat)
        truth = demo.ellipsoid_gamma0(scene.cell, pass_direction) * season
        slope = demo.sample_on_radar(grid, fields, fields.slope, order=0)
        aspect = demo.sample_on_radar(grid, fields, fields.aspect, order=0)
        cover = demo.sample_on_radar(grid, fields, fields.cover, order=0)
        incidence = grid.incidence(np.arange(grid.samples))[None, :]
        look = s1.look_azimuth(pass_direction, grid.heading_deg)
        forest = ndimage.binary_erosion(cover == FOREST, iterations=3)
        forest &= slope > 5  # where the terrain changes the ellipsoid gamma0
        assert forest.sum() > 1000
        flat = s1.flatten_gamma0(truth, incidence, slope, aspect, look) / season
        expected = demo.COVER_GAMMA0_DB[FOREST]
        for band in range(2):
            flat_db = np.nanmedian(10 * np.log10(flat[band][forest]))
            raw_db = 10 * np.log10(truth[band][forest] / season)
            assert abs(flat_db - expected[band]) < 0.3, (pass_direction, band)
            # Unflattened, slopes facing the sensor and away differ by decibels.
            assert np.percentile(raw_db, 90) - np.percentile(raw_db, 10) > 2


def test_noise_removal_brings_dark_water_back_to_its_truth():
    # A cell with a lake, in the demo tiles' 1-degree square (the demo tiles have none).
    cell = (-20, 123)
    scene = demo.s1_scenes(YEAR, (cell[0] + 0.5) / 18, (cell[1] + 0.5) / 18)[0]
    sim = demo.simulate(scene)
    grid, fields = sim.grid, demo.cell_fields(cell)
    cover = demo.sample_on_radar(grid, fields, fields.cover, order=0)
    water = ndimage.binary_erosion(cover == LAKE, iterations=3)
    assert water.sum() > 10_000
    season = demo.seasonal_factor(scene.centre_time.date(), grid.centre_lat)
    lines, pixels = np.arange(grid.lines), np.arange(grid.samples)
    for band, pol in enumerate(demo.POLARISATIONS):
        cal = s1.parse_calibration(sim.documents[f"calibration/calibration-iw-{pol}.xml"])
        noise = s1.parse_noise(sim.documents[f"calibration/noise-iw-{pol}.xml"])
        lut = s1.interpolate_lut(cal.lines, cal.pixels, cal.gamma, lines, pixels)
        # Lakes are flat: their truth is the cover's gamma0, scaled by the season.
        lake = demo.ellipsoid_gamma0(cell, scene.pass_direction)[band][water]
        assert np.allclose(10 * np.log10(lake), demo.COVER_GAMMA0_DB[LAKE][band], atol=0.01)
        truth_db = 10 * np.log10(lake.mean() * season)
        clean = s1.gamma0(sim.dn[pol], lut, s1.thermal_noise(noise, lines, pixels))
        noisy = s1.gamma0(sim.dn[pol], lut, 0.0)
        assert abs(10 * np.log10(clean[water].mean()) - truth_db) < 0.2
        assert 10 * np.log10(noisy[water].mean()) - truth_db > 1.5, "noise as strong as real"


def test_the_truth_file_is_the_flat_gamma0_on_the_ard_lattice(tmp_path):
    cell = demo.cell_of(*DEMO_TILE)
    path = demo.write_truth(tmp_path, cell)
    fields = demo.cell_fields(cell)
    with rasterio.open(path) as src:
        assert src.count == 2 and src.descriptions == ("VV", "VH")
        assert src.transform == fields.transform and src.crs.to_epsg() == 4326
        assert src.res == (demo.LATTICE_DEG, demo.LATTICE_DEG)
        np.testing.assert_array_equal(src.read(), fields.gamma0)
        # It covers the tile with room to spare.
        bbox = tile_bbox(*DEMO_TILE)
        west, south, east, north = src.bounds
        assert west < bbox.west and east > bbox.east and south < bbox.south and north > bbox.north


# --- Items and files ----------------------------------------------------------------------


def test_items_have_the_earth_search_shape(written):
    root, items = written
    for scene, item_path in items.items():
        item = json.loads(item_path.read_text())
        assert list(item) == list(REFERENCE_ITEM)
        props, real = item["properties"], REFERENCE_ITEM["properties"]
        assert list(props) == [k for k in real if k not in demo.OMITTED_PROPERTIES]
        assert list(item["assets"]) == list(REFERENCE_ITEM["assets"])
        for key, asset in item["assets"].items():
            assert set(asset) == set(REFERENCE_ITEM["assets"][key]), key
            assert (item_path.parent / asset["href"]).is_file(), key
        assert item["stac_extensions"] == REFERENCE_ITEM["stac_extensions"]
        assert props["sat:orbit_state"] == scene.pass_direction
        assert props["sat:relative_orbit"] == scene.relative_orbit
        assert props["storage:requester_pays"] is True
        assert props["s1:product_identifier"].startswith(item["id"] + "_")
        assert props["proj:shape"] == props["s1:shape"]
        ring = np.array(item["geometry"]["coordinates"][0])
        assert item["bbox"] == [*ring.min(axis=0), *ring.max(axis=0)]
        # The pseudo-grid quirk: proj:transform spans proj:bbox with shape [samples, lines].
        w, s, e, n = props["proj:bbox"]
        samples, lines = props["proj:shape"]
        assert props["proj:transform"] == [(e - w) / lines, 0, w, 0, -(n - s) / samples, n]
        assert "/sentinel-s1-l1c/GRD/2023/" in item["assets"]["vv"]["href"]


def test_new_scenes_point_schema_product_at_the_rfi_annotation(written, tmp_path):
    _, items = written
    for item_path in items.values():
        href = json.loads(item_path.read_text())["assets"]["schema-product-vv"]["href"]
        assert href.endswith("/annotation/rfi/rfi-iw-vv.xml")
    # Before IPF 3.40 there is no rfi folder and the asset is the product annotation.
    old = demo.s1_scenes(2020, *DEMO_TILE)[0]
    item = json.loads(demo.write_scene(tmp_path, old).read_text())
    assert item["assets"]["schema-product-vh"]["href"].endswith("/annotation/iw-vh.xml")
    assert not list(tmp_path.rglob("rfi"))


def test_scene_files_are_byte_identical_when_made_again(written, tmp_path):
    root, items = written
    scene = next(iter(items))
    demo.write_scene(tmp_path, scene)
    first = sorted(p.relative_to(root) for p in demo.product_folder(root, scene).rglob("*"))
    again = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    files = [p for p in first if (root / p).is_file()] + [
        demo.item_path(root, scene).relative_to(root)
    ]
    assert sorted(files) == again, "other files or leftovers"
    for p in files:
        assert hashlib.sha256((root / p).read_bytes()).digest() == (
            hashlib.sha256((tmp_path / p).read_bytes()).digest()
        ), p


def test_a_tile_off_the_lattice_gets_the_scenes_of_the_cells_it_reaches(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "_write_cell", lambda root, year, cell: 0)
    # 5052X1118Y: its centre is 0.0169 degree off the 1/18 degree lattice, east of 54 E.
    summary = demo.write_s1_archive(tmp_path, YEAR, [(54.0169, 12.3056)])
    assert summary["cells"] == [demo.cell_name(c) for c in [(971, 221), (972, 221)]]


def test_the_archive_writes_each_cells_scenes_once(tmp_path, monkeypatch):
    written = []

    def write_scene(root, scene, version=demo.GENERATOR_VERSION):
        written.append(scene)
        demo.item_path(root, scene).parent.mkdir(parents=True, exist_ok=True)
        software = {"processing:software": {"ttc-ard-demo-archive": version}}
        demo.item_path(root, scene).write_text(json.dumps({"properties": software}))

    monkeypatch.setattr(archive, "write_scene", write_scene)
    monkeypatch.setattr(archive, "write_truth", lambda root, cell: None)
    # Two tiles of one cell (centres as the DB rounds them) ask for the same scenes: the
    # quarter windows' only.
    two = [DEMO_TILE, (DEMO_TILE[0] + 0.00004, DEMO_TILE[1] - 0.00004)]
    summary = demo.write_s1_archive(tmp_path, YEAR, two)
    expected = demo.scenes_in_windows(demo.s1_scenes(YEAR, *DEMO_TILE), YEAR)
    assert written == expected and summary["written"] == len(expected)
    assert all(s1.quarter_of(s.centre_time, YEAR) is not None for s in written)
    listing = json.loads(
        demo.truth_scenes_path(tmp_path, demo.cell_of(*DEMO_TILE), YEAR).read_text()
    )
    assert [entry["item"] for entry in listing] == [demo.item_id(s) for s in expected]
    again = demo.write_s1_archive(tmp_path, YEAR, two)
    assert again["written"] == 0 and again["skipped"] == len(expected)
    assert len(written) == len(expected)
    # A scene of generator version 1 (no relief displacement) is made again.
    write_scene(tmp_path, expected[0], version="1")
    written.clear()
    assert demo.write_s1_archive(tmp_path, YEAR, two)["written"] == 1
    assert written == [expected[0]]


def test_a_scene_across_the_antimeridian_is_written_as_real_ones_are(tmp_path):
    """Longitudes within [-180, 180) in the annotation, the footprint split at 180 into parts
    that together are the scene's outline, and STAC's bbox with its west past its east."""
    scene = demo.s1_scenes(YEAR, 180 - 1 / 36, -16.1389)[0]
    item_path = demo.write_scene(tmp_path, scene)
    item = json.loads(item_path.read_text())
    _, _, geo = read_annotations(item_path)
    assert geo.longitude.min() < -179.99 and geo.longitude.max() > 179.9
    assert (np.abs(geo.longitude) <= 180).all()
    assert item["geometry"]["type"] == "MultiPolygon" and item["bbox"][0] > item["bbox"][2]
    parts = [Polygon(rings[0]) for rings in item["geometry"]["coordinates"]]
    assert all(-180 <= x <= 180 for part in parts for x, _ in part.exterior.coords)
    outline = Polygon(demo.footprint(scene))
    assert outline.bounds[2] > 180  # the generator's own outline runs on past 180
    assert sum(part.area for part in parts) == pytest.approx(outline.area, rel=1e-9)
