"""The demo archive's Sentinel-2 part: the MGRS grid, scenes, weather and Earth Search items."""

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.windows import from_bounds
from shapely.geometry import shape

from demo_archive import s2, weather
from demo_archive.mgrs import Granule, footprint, granules_intersecting, to_lonlat, to_utm
from demo_archive.s2 import (
    OMITTED_ASSETS,
    OMITTED_PROPERTIES,
    NodeBox,
    granule_scenes,
    nearby_groups,
    plan_granule,
    processing_baseline,
    write_s2_archive,
    write_scenes,
)
from loaders.catalog import Catalog, search
from loaders.tiles import TILE_HALF_WIDTH_DEG, tile_bbox

REFERENCE = Path(__file__).parent / "fixtures/reference"
REFERENCE_ITEMS = {
    name: json.loads((REFERENCE / f"s2-l2a-v1-{name}-item.json").read_text())
    for name in ("baseline0509", "baseline0511", "baseline0214")
}
#: The item format the demo copies (2023, sentinel2-to-stac 0.1.1).
REFERENCE_ITEM = REFERENCE_ITEMS["baseline0509"]
#: A tile in the 9.8 km strip where granules 30NWN and 30NXN overlap: both get band files.
OVERLAP_TILE = (-2.05, 6.64)
#: The first days of 2023 seen by both granules, and one more where 30NXN's footprint is partial.
BOTH_DAYS = (date(2023, 1, 4), date(2023, 1, 9))
PARTIAL_DAY = date(2023, 1, 6)
#: A point inside each granule the tests use.
INSIDE = {"30NWN": (-2.5, 6.9), "30NXN": (-1.6, 6.7)}
#: The tile whose east edge is the antimeridian (Fiji), and the first days of 2023 seen there.
ANTIMERIDIAN_TILE = (180 - TILE_HALF_WIDTH_DEG, -18.0833)
ANTIMERIDIAN_DAYS = (date(2023, 1, 1), date(2023, 1, 3))


def by_id(granule_id: str) -> Granule:
    lon, lat = INSIDE[granule_id]
    (granule,) = [g for g in granules_intersecting(lon, lat, lon, lat) if g.id == granule_id]
    return granule


def as_box(bbox):
    return shapely.box(bbox.west, bbox.south, bbox.east, bbox.north)


def write_days(root, tiles, days):
    """Write the scenes of ``days`` of every granule the tiles' cloud boxes touch (2023)."""
    half = s2.CLOUD_BBOX_HALF_DEG
    granules = {
        g
        for lon, lat in tiles
        for g in granules_intersecting(lon - half, lat - half, lon + half, lat + half)
    }
    plans = [plan_granule(g, tiles) for g in sorted(granules, key=lambda g: g.id)]
    scenes = [
        scene
        for plan in plans
        for scene in granule_scenes(plan.granule, 2023)
        if scene.datetime.date() in days
    ]
    write_scenes(root, plans, scenes)
    return scenes


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Three days of the granules around :data:`OVERLAP_TILE`; (root, scenes by id)."""
    root = tmp_path_factory.mktemp("s2_archive")
    scenes = write_days(root, [OVERLAP_TILE], {*BOTH_DAYS, PARTIAL_DAY})
    return root, {scene.id: scene for scene in scenes}


def item_of(root, scene_id):
    return json.loads(s2.item_path(root, scene_id).read_text())


def asset_path(root, item, key):
    return s2.item_path(root, item["id"]).parent / item["assets"][key]["href"]


def read_lonlat_box(path, epsg, west, south, east, north):
    """Pixels of the file inside a lon/lat box (converted to the file's UTM)."""
    x, y = to_utm(epsg, np.array([west, east]), np.array([south, north]))
    with rasterio.open(path) as src:
        window = from_bounds(x[0], y[0], x[1], y[1], src.transform).round_offsets().round_lengths()
        return src.read(1, window=window)


# --- The MGRS grid -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFERENCE_ITEMS))
def test_granule_grid_matches_real_items(name):
    item = REFERENCE_ITEMS[name]
    properties = item["properties"]
    centre = shape(item["geometry"]).representative_point()
    found = {g.id: g for g in granules_intersecting(centre.x, centre.y, centre.x, centre.y)}
    granule_id = properties["grid:code"].removeprefix("MGRS-")
    granule = found[granule_id]
    assert (granule.zone, granule.latitude_band, granule.grid_square) == (
        properties["mgrs:utm_zone"],
        properties["mgrs:latitude_band"],
        properties["mgrs:grid_square"],
    )
    assert granule.epsg == properties["proj:epsg"]
    for key, resolution in (("red", 10), ("nir08", 20), ("scl", 20)):
        assert list(granule.transform(resolution))[:6] == item["assets"][key]["proj:transform"]
    # Earth Search footprints are the data's outline: inside the granule's extent.
    outline = footprint(granule)
    real = shape(item["geometry"])
    assert real.difference(outline.buffer(0.002)).area == 0


def test_full_footprint_matches_a_real_one():
    real = shape(REFERENCE_ITEM["geometry"])  # 13TDE, no nodata: the whole granule
    (granule,) = [g for g in granules_intersecting(-105.5, 40.1, -105.5, 40.1) if g.id == "13TDE"]
    # The same corners, in the same order (ours has more points along the edges).
    corners = [point for point in footprint(granule).exterior.coords][:-1:8]
    assert np.allclose(corners, real.exterior.coords[:-1], atol=1e-4)


def test_a_box_on_a_zone_edge_gets_granules_of_both_zones():
    granules = granules_intersecting(-0.05, 5.0, 0.05, 5.1)
    assert {g.zone for g in granules} == {30, 31}
    assert {g.epsg for g in granules} == {32630, 32631}


def test_a_box_on_the_equator_gets_granules_of_both_hemispheres():
    granules = granules_intersecting(10.0, -0.02, 10.1, 0.02)
    assert {g.epsg for g in granules} == {32632, 32732}
    # Northern granules reach 9.8 km south of the equator; southern ones stop at it.
    assert {g.id for g in granules_intersecting(10.0, -0.05, 10.1, -0.04)} >= {
        g.id for g in granules if g.epsg == 32632
    }
    assert all(g.epsg == 32632 for g in granules_intersecting(10.0, 0.03, 10.1, 0.04))


def test_a_granule_across_the_antimeridian_has_one_simple_footprint():
    lon, lat = ANTIMERIDIAN_TILE
    granules = {g.id: g for g in granules_intersecting(lon, lat, lon + 0.5, lat)}
    assert {"60KZE", "1KAV"} <= set(granules)
    east_of_180, west_of_minus_180 = footprint(granules["60KZE"]), footprint(granules["1KAV"])
    assert east_of_180.is_valid and east_of_180.bounds[0] < 180 < east_of_180.bounds[2]
    assert west_of_minus_180.is_valid
    assert west_of_minus_180.bounds[0] < -180 < west_of_minus_180.bounds[2]


def test_every_granule_returned_intersects_the_box():
    box = (-1.72, 6.61, -1.61, 6.72)
    granules = granules_intersecting(*box)
    assert [g.id for g in granules] == ["30NXN"]
    assert footprint(granules[0]).intersects(shapely.box(*box))


# --- Scenes ------------------------------------------------------------------------------------


def test_revisit_is_five_days_alternating_satellites():
    scenes = granule_scenes(by_id("30NWN"), 2023)
    whole = [s for s in scenes if s.share == 1]
    assert len(whole) >= 70
    gaps = {
        (b.datetime.date() - a.datetime.date()).days for a, b in zip(whole, whole[1:], strict=False)
    }
    assert gaps == {5}
    platforms = [s.platform for s in whole]
    assert platforms[::2] == [platforms[0]] * len(platforms[::2])
    assert set(platforms[:2]) == {"sentinel-2a", "sentinel-2b"}
    # Acquired near 10:30 local solar time, descending.
    centre = footprint(by_id("30NWN")).centroid
    for scene in whole:
        hours = scene.datetime.hour + scene.datetime.minute / 60 + centre.x / 15
        assert 10.0 < hours < 11.0


def test_before_2017_one_satellite_every_ten_days():
    scenes = [s for s in granule_scenes(by_id("30NWN"), 2016) if s.share == 1]
    assert {s.platform for s in scenes} == {"sentinel-2a"}
    assert {(b.datetime - a.datetime).days for a, b in zip(scenes, scenes[1:], strict=False)} == {
        10
    }


def test_a_granule_between_two_tracks_is_seen_by_both_with_partial_footprints():
    scenes = granule_scenes(by_id("30NXN"), 2023)
    assert len({s.relative_orbit for s in scenes}) == 2
    assert all(0 < s.share < 1 for s in scenes)
    assert all(s.footprint.within(footprint(s.granule).buffer(1e-9)) for s in scenes)


@pytest.mark.parametrize(
    ("day", "baseline"),
    [
        (date(2020, 7, 14), "02.14"),
        (date(2021, 5, 1), "03.00"),
        (date(2021, 8, 1), "03.01"),
        (date(2022, 1, 24), "03.01"),
        (date(2022, 1, 25), "04.00"),
        (date(2023, 6, 1), "05.09"),
        (date(2024, 3, 1), "05.10"),
        (date(2025, 7, 31), "05.11"),
    ],
)
def test_processing_baseline_by_date(day, baseline):
    assert processing_baseline(day) == baseline


@pytest.mark.parametrize("year", [2021, 2022, 2023])
def test_pixels_and_metadata_carry_the_offset_from_25_january_2022(year):
    for scene in granule_scenes(by_id("30NWN"), year):
        with_offset = scene.datetime.date() >= date(2022, 1, 25)
        if scene.metadata_error is None:
            assert scene.pixel_offset_dn == (1000 if with_offset else 0)
            assert scene.declares_offset == with_offset


def test_a_few_2022_scenes_have_metadata_that_contradicts_their_pixels():
    scenes = granule_scenes(by_id("30NWN"), 2022)
    wrong = [s for s in scenes if s.metadata_error]
    assert len(wrong) == s2.MISLABELLED_PER_GRANULE
    assert {s.metadata_error for s in wrong} == {s2.OFFSET_NOT_DECLARED, s2.OFFSET_NOT_APPLIED}
    for scene in wrong:
        assert scene.declares_offset != (scene.pixel_offset_dn > 0)
        assert scene.baseline >= "04.00"
    assert all(s.declares_offset == (s.pixel_offset_dn > 0) for s in scenes if not s.metadata_error)
    # Deterministic: the same scenes every time.
    assert [s.id for s in wrong] == [
        s.id for s in granule_scenes(by_id("30NWN"), 2022) if s.metadata_error
    ]


def test_mislabelled_scene_files_show_the_contradiction(tmp_path):
    granule = by_id("30NWN")  # inside one swath: every scene sees the whole granule
    wrong = [s for s in granule_scenes(granule, 2022) if s.metadata_error]
    plan = plan_granule(granule, [INSIDE["30NWN"]])
    write_scenes(tmp_path, [plan], wrong)
    seen_land = 0
    for scene in wrong:
        item = item_of(tmp_path, scene.id)
        truth = json.loads(s2.truth_path(tmp_path, scene.id).read_text())
        properties = item["properties"]
        declared = properties["earthsearch:boa_offset_applied"]
        assert declared == (properties["s2:processing_baseline"] >= "04.00")
        assert declared == (item["assets"]["blue"]["raster:bands"][0]["offset"] == -0.1)
        assert truth["metadata_error"] == scene.metadata_error
        assert declared != (truth["pixel_offset_dn"] > 0)
        # Clear land is dark in blue (reflectance < 0.1): DN < 1000 exactly without offset.
        with rasterio.open(asset_path(tmp_path, item, "blue")) as src:
            blue = src.read(1)[::2, ::2]  # the 20 m grid of the SCL
            bounds = src.bounds
        with rasterio.open(asset_path(tmp_path, item, "scl")) as src:
            scl = src.read(1, window=from_bounds(*bounds, src.transform).round_offsets())
        land = np.isin(scl, (weather.VEGETATION, weather.NOT_VEGETATED))
        if land.sum() > 1000:
            seen_land += 1
            assert (np.median(blue[land]) > 1000) == (truth["pixel_offset_dn"] == 1000)
    assert seen_land, "no mislabelled scene shows clear land"


# --- Weather and ground ------------------------------------------------------------------------


def demo_grid(step: int = 9):
    """A coarse lattice grid around the demo tiles (about 0.6 degree square)."""
    lon = weather.lattice(round(-2.0 * weather.LATTICE_PER_DEG), 432)[::step]
    lat = weather.lattice(round(6.4 * weather.LATTICE_PER_DEG), 432)[::step]
    return lon, lat


def cloud_share(day: date, lon, lat) -> float:
    scl = weather.sky(day, lon, lat).scl
    return float(np.isin(scl, (*weather.CLOUD_CLASSES, weather.THIN_CIRRUS)).mean())


def test_wet_season_is_cloudier_than_dry_season():
    lon, lat = demo_grid()
    wet = [cloud_share(date(2023, m, d), lon, lat) for m in (6, 7, 8) for d in range(1, 29, 3)]
    dry = [cloud_share(date(2023, m, d), lon, lat) for m in (1, 2, 12) for d in range(1, 29, 3)]
    assert np.mean(wet) > np.mean(dry) + 0.3
    assert np.median(dry) < 0.1, "dry-season days should be mostly clear"
    assert max(wet) > 0.95, "no overcast day in the wet season"
    assert min(wet) < 0.5


def test_weather_depends_on_the_point_not_on_the_grid():
    lon, lat = demo_grid()
    day = date(2023, 7, 3)
    whole = weather.sky(day, lon, lat)
    part = weather.sky(day, lon[5:17], lat[7:20])
    assert np.array_equal(whole.scl[7:20, 5:17], part.scl)
    assert np.array_equal(whole.cloud_reflectance[7:20, 5:17], part.cloud_reflectance)


def test_reflectance_agrees_with_the_scene_classes():
    lon, lat = demo_grid(step=2)
    ground = weather.ground(lon, lat)
    seen = set()
    for day in (date(2023, 2, 7), date(2023, 5, 20), date(2023, 7, 3), date(2023, 8, 12)):
        sky = weather.sky(day, lon, lat)
        classes = weather.scene_classes(ground, sky, day, lat)
        seen |= set(np.unique(classes).tolist())
        values = weather.reflectance(ground, sky, day, lat)
        blue, red, nir = values[0], values[2], values[3]
        cloud = np.isin(classes, weather.CLOUD_CLASSES)
        assert (values[:, cloud] >= 0.3).all() and (values[:, cloud] <= 0.8).all()
        clear_land = np.isin(classes, (weather.VEGETATION, weather.NOT_VEGETATED))
        assert (blue[clear_land] < 0.2).all()
        assert (nir[classes == weather.CLOUD_SHADOW] < 0.15).all()
        ndvi = (nir - red) / (nir + red)
        assert (ndvi[classes == weather.VEGETATION] > 0.5).all()
        assert (ndvi[classes == weather.NOT_VEGETATED] < 0.5).all()
    assert seen >= {
        weather.CLOUD_SHADOW,
        weather.VEGETATION,
        weather.NOT_VEGETATED,
        weather.CLOUD_MEDIUM,
        weather.CLOUD_HIGH,
    }


def test_lakes_are_water_and_dark_in_nir():
    # A lake of the demo terrain (see test_demo_dem), on a clear dry-season day.
    lon = weather.lattice(round(-2.0 * weather.LATTICE_PER_DEG), 720)
    lat = weather.lattice(round(6.0 * weather.LATTICE_PER_DEG), 720)
    ground = weather.ground(lon, lat)
    assert (ground.cover == weather.LAKE).any()
    day = date(2023, 1, 9)
    sky = weather.sky(day, lon, lat)
    classes = weather.scene_classes(ground, sky, day, lat)
    nir = weather.reflectance(ground, sky, day, lat)[3]
    water = classes == weather.WATER
    assert water.any() and nir[water].max() < 0.05


def test_vegetation_is_greener_in_the_wet_season():
    assert (
        weather.greenness(date(2023, 8, 1), 6.6)
        > 0.6
        > 0.2
        > weather.greenness(date(2023, 2, 1), 6.6)
    )


# --- The written scenes ------------------------------------------------------------------------


def test_overlapping_granules_agree_pixel_for_pixel(archive):
    root, scenes = archive
    # A box inside both granules (and the tile's band window).
    box = (-2.07, 6.62, -2.03, 6.66)
    for day in BOTH_DAYS:
        same_day = [
            s
            for s in scenes.values()
            if s.datetime.date() == day and s.granule.id in ("30NWN", "30NXN")
        ]
        assert len(same_day) == 2
        for key in ("scl", "blue", "swir16"):
            pixels = []
            for scene in same_day:
                assert scene.footprint.contains(shapely.box(*box))
                item = item_of(root, scene.id)
                pixels.append(
                    read_lonlat_box(asset_path(root, item, key), scene.granule.epsg, *box)
                )
            assert pixels[0].shape == pixels[1].shape and pixels[0].size > 1000
            assert np.array_equal(pixels[0], pixels[1]), (day, key)
            assert (pixels[0] > 0).all()


def test_partial_footprint_has_nodata_outside_it(archive):
    root, scenes = archive
    (scene,) = [
        s for s in scenes.values() if s.datetime.date() == PARTIAL_DAY and s.granule.id == "30NXN"
    ]
    assert 0.1 < scene.share < 0.9
    item = item_of(root, scene.id)
    assert shape(item["geometry"]).equals_exact(scene.footprint, 1e-9)
    for key in ("scl", "nir"):
        with rasterio.open(asset_path(root, item, key)) as src:
            pixels = src.read(1)[::7, ::7]
            rows, cols = np.mgrid[0 : src.height : 7, 0 : src.width : 7]
            x = src.transform.c + (cols + 0.5) * src.transform.a
            y = src.transform.f + (rows + 0.5) * src.transform.e
        lon, lat = to_lonlat(scene.granule.epsg, x, y)
        inside = shapely.contains_xy(scene.footprint.buffer(-0.001), lon, lat)
        outside = ~shapely.contains_xy(scene.footprint.buffer(0.001), lon, lat)
        assert (pixels[outside] == 0).all() and outside.any()
        assert (pixels[inside] > 0).all()


def test_scl_and_bands_agree_in_the_files(archive):
    root, scenes = archive
    checked = 0
    for scene in scenes.values():
        item = item_of(root, scene.id)
        if "blue" not in item["assets"]:
            continue
        with rasterio.open(asset_path(root, item, "swir16")) as src:
            swir = src.read(1).astype(np.int64)
            bounds = src.bounds
        with rasterio.open(asset_path(root, item, "scl")) as src:
            scl = src.read(1, window=from_bounds(*bounds, src.transform).round_offsets())
        assert scl.shape == swir.shape
        assert np.array_equal(scl == 0, swir == 0)
        reflectance = (swir - scene.pixel_offset_dn) / 10_000
        cloud = np.isin(scl, weather.CLOUD_CLASSES)
        assert (reflectance[cloud] >= 0.3).all()
        land = np.isin(scl, (weather.VEGETATION, weather.NOT_VEGETATED))
        assert (reflectance[land] < 0.3).all()
        checked += land.any()
    assert checked


def test_cogs_are_shaped_like_earth_search(archive):
    root, scenes = archive
    scene = next(s for s in scenes.values() if s.granule.id == "30NXN")
    item = item_of(root, scene.id)
    granule = scene.granule
    for key, dtype, resolution in (
        ("scl", "uint8", 20),
        ("red", "uint16", 10),
        ("nir08", "uint16", 20),
    ):
        asset = item["assets"][key]
        with rasterio.open(asset_path(root, item, key)) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert src.dtypes == (dtype,) and src.nodata == 0 and src.crs.to_epsg() == granule.epsg
            assert src.compression.name == "deflate"
            assert [src.height, src.width] == asset["proj:shape"]
            assert list(src.transform)[:6] == asset["proj:transform"]
            # On the granule's pixel grid, in whole 640 m steps from its origin.
            assert (src.transform.c - granule.west) % 640 == 0
            assert (granule.north - src.transform.f) % 640 == 0
            assert src.transform.a == resolution
            assert (src.width * resolution) % 640 == 0 or src.bounds.right == granule.east
            if key == "scl":
                assert src.overviews(1) == [2, 4, 8, 16, 32]


def test_files_are_byte_identical_when_made_again(archive, tmp_path):
    root, scenes = archive
    write_days(tmp_path, [OVERLAP_TILE], {BOTH_DAYS[0]})
    again = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(again) > 20
    assert not [p for p in again if p.name.endswith(".partial")]
    for path in again:
        first = root / path.relative_to(tmp_path)
        assert (
            hashlib.sha256(first.read_bytes()).digest()
            == hashlib.sha256(path.read_bytes()).digest()
        ), path


def test_band_files_follow_the_weather_band_order():
    # The reflectance arrays of the weather module are indexed in this order.
    assert tuple(band.file for band in s2.BANDS) == weather.BAND_ORDER


def test_items_have_the_earth_search_shape(archive):
    root, scenes = archive
    reference = REFERENCE_ITEM
    for scene in scenes.values():
        item = item_of(root, scene.id)
        assert list(item) == list(reference)
        assert list(item["properties"]) == [
            key for key in reference["properties"] if key not in OMITTED_PROPERTIES
        ]
        expected_assets = [key for key in reference["assets"] if key not in OMITTED_ASSETS]
        if "blue" not in item["assets"]:
            expected_assets = ["scl"]
        assert list(item["assets"]) == expected_assets
        for key, asset in item["assets"].items():
            real = reference["assets"][key]
            assert list(asset) == list(real), key
            for field in ("type", "title", "eo:bands", "gsd", "roles"):
                assert asset.get(field) == real.get(field), (key, field)
            offset = -0.1 if scene.declares_offset else 0
            expected_bands = [dict(real["raster:bands"][0])]
            if "offset" in expected_bands[0]:
                expected_bands[0]["offset"] = offset
            assert asset["raster:bands"] == expected_bands, key
            href = asset["href"]
            assert (
                not href.startswith("/") and (s2.item_path(root, item["id"]).parent / href).exists()
            )
        assert item["stac_extensions"] == reference["stac_extensions"]
        assert item["collection"] == "sentinel-2-l2a"
        assert not any("http" in link["href"] for link in item["links"])
        properties = item["properties"]
        granule = scene.granule
        assert properties["grid:code"] == f"MGRS-{granule.id}"
        assert properties["proj:epsg"] == granule.epsg
        assert properties["earthsearch:boa_offset_applied"] == scene.declares_offset
        assert properties["s2:processing_baseline"] == "05.09"
        assert 0 <= properties["eo:cloud_cover"] <= 100
        assert f"_R{scene.relative_orbit:03d}_T{granule.id}_" in properties["s2:product_uri"]
        assert item["bbox"] == list(shape(item["geometry"]).bounds)
        assert 20 < properties["view:sun_elevation"] < 90


def test_the_catalogue_search_finds_the_scenes(archive):
    root, scenes = archive
    bbox = tile_bbox(*OVERLAP_TILE)
    found = search(
        Catalog(path=str(root / "stac")), "sentinel-2-l2a", bbox, "2023-01-01/2023-12-31"
    )
    expected = {s.id for s in scenes.values() if s.footprint.intersects(as_box(bbox))}
    assert {item.id for item in found} == expected
    clear = search(
        Catalog(path=str(root / "stac")),
        "sentinel-2-l2a",
        bbox,
        "2023-01-01/2023-12-31",
        {"eo:cloud_cover": {"lt": 50}},
    )
    assert {item.id for item in clear} <= expected


def test_a_tile_on_the_antimeridian_gets_scenes_from_both_sides(tmp_path):
    scenes = write_days(tmp_path, [ANTIMERIDIAN_TILE], set(ANTIMERIDIAN_DAYS))
    assert {s.granule.zone for s in scenes} == {60, 1}
    for scene in scenes:
        item = item_of(tmp_path, scene.id)
        outline = shape(item["geometry"])
        assert outline.is_valid and not outline.is_empty
        west, south, east, north = outline.bounds
        assert west >= -180 and east <= 180, scene.id
        # Split at the antimeridian, the parts are the footprint brought back into range.
        assert outline.area == pytest.approx(scene.footprint.area, rel=1e-9)
        if item["geometry"]["type"] == "MultiPolygon":
            assert item["bbox"][0] > item["bbox"][2], "STAC's bbox across the antimeridian"
    found = search(
        Catalog(path=str(tmp_path / "stac")),
        "sentinel-2-l2a",
        tile_bbox(*ANTIMERIDIAN_TILE),
        "2023-01-01/2023-01-03",
    )
    assert {item.properties["mgrs:utm_zone"] for item in found} == {60, 1}


# --- Generating granules together --------------------------------------------------------------


@pytest.mark.parametrize(
    "boxes, groups",
    [
        # Overlapping or side by side: one lattice costs no more than two.
        ([NodeBox(0, 0, 99, 99), NodeBox(50, 0, 149, 99)], [[0, 1]]),
        ([NodeBox(0, 0, 99, 99), NodeBox(100, 0, 199, 99)], [[0, 1]]),
        # Far apart (two continents), or diagonal neighbours: each its own lattice.
        ([NodeBox(0, 0, 99, 99), NodeBox(4_000_000, -1_000_000, 4_000_099, -999_901)], [[0], [1]]),
        ([NodeBox(0, 0, 99, 99), NodeBox(100, 100, 199, 199)], [[0], [1]]),
        # Two places of two granules each, listed interleaved.
        (
            [
                NodeBox(0, 0, 99, 99),
                NodeBox(9_000, 0, 9_099, 99),
                NodeBox(0, 90, 99, 189),
                NodeBox(9_000, 90, 9_099, 189),
            ],
            [[0, 2], [1, 3]],
        ),
        ([], []),
    ],
)
def test_nearby_granules_are_generated_together_and_far_ones_apart(boxes, groups):
    assert nearby_groups(boxes) == groups


def test_the_demo_tiles_share_one_lattice_and_a_far_tile_gets_its_own():
    demo_tiles = [(-1.6944, 6.6389), (-1.6389, 6.6389), (-1.6944, 6.6944), (-1.6389, 6.6944)]
    madagascar = (47.4722, -18.9167)
    half = s2.CLOUD_BBOX_HALF_DEG
    wanted = {}
    for lon, lat in [*demo_tiles, madagascar]:
        for g in granules_intersecting(lon - half, lat - half, lon + half, lat + half):
            wanted.setdefault(g, []).append((lon, lat))
    plans = [plan_granule(g, tiles) for g, tiles in sorted(wanted.items(), key=lambda i: i[0].id)]
    groups = nearby_groups([s2.plan_nodes(plan) for plan in plans])
    zones = [{plans[k].granule.zone for k in group} for group in groups]
    assert sorted(map(sorted, zones)) == [[30], [38, 39]]


def test_a_group_lattice_never_holds_more_nodes_than_its_granules():
    # A diagonal chain of overlapping boxes: joining them all would cover a wide square.
    boxes = [NodeBox(80 * k, 80 * k, 80 * k + 99, 80 * k + 99) for k in range(10)]
    for group in nearby_groups(boxes):
        lattice = boxes[group[0]]
        for k in group[1:]:
            lattice = lattice.union(boxes[k])
        assert lattice.nodes <= sum(boxes[k].nodes for k in group)


# --- The archive: coverage and growth ----------------------------------------------------------


def test_archive_grows_with_new_tiles_and_keeps_old_pixels(tmp_path, monkeypatch):
    real_scenes = s2.granule_scenes
    first_days = {date(2023, 1, 4)}
    monkeypatch.setattr(
        s2,
        "granule_scenes",
        lambda granule, year: [
            s for s in real_scenes(granule, year) if s.datetime.date() in first_days
        ],
    )
    tile = (-1.6944, 6.6389)
    summary = write_s2_archive(tmp_path, 2023, [tile])
    assert summary["granules_written"] and summary["scenes"] > 0
    record = json.loads(s2.coverage_path(tmp_path, 2023, "30NXN").read_text())
    assert record["tiles"] == [list(tile)]
    (scene,) = s2.granule_scenes(by_id("30NXN"), 2023)
    paths = [s2.scene_folder(tmp_path, scene) / name for name in ("SCL.tif", "B02.tif")]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    old = []
    for path in paths:
        with rasterio.open(path) as src:
            old.append((src.bounds, src.read(1)))

    again = write_s2_archive(tmp_path, 2023, [tile])
    assert again["granules_written"] == [] and again["scenes"] == 0
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    # A tile 0.3 degree east: its cloud box reaches further, so the files grow.
    grown = write_s2_archive(tmp_path, 2023, [tile, (tile[0] + 0.3, tile[1])])
    assert "30NXN" in grown["granules_written"]
    record = json.loads(s2.coverage_path(tmp_path, 2023, "30NXN").read_text())
    assert len(record["tiles"]) == 2
    for path, (old_bounds, old_pixels) in zip(paths, old, strict=True):
        with rasterio.open(path) as src:
            assert src.bounds.right > old_bounds.right
            window = from_bounds(*old_bounds, src.transform).round_offsets().round_lengths()
            assert np.array_equal(src.read(1, window=window), old_pixels), path.name


def test_a_coverage_record_is_written_after_the_files(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(s2, "granule_scenes", lambda granule, year: [])
    monkeypatch.setattr(s2, "write_scenes", fail)
    with pytest.raises(OSError, match="disk full"):
        write_s2_archive(tmp_path, 2023, [(-1.6944, 6.6389)])
    assert not (tmp_path / "demo-coverage").exists()
