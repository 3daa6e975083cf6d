"""Placing Sentinel-1 GRD scenes: which annotation, which items, where the tile is in the image."""

import dataclasses
from pathlib import Path

import numpy as np
import pystac

from loaders import s1
from loaders.s1_source import (
    S3Access,
    image_coordinates,
    is_dual_pol_iw,
    product_annotation_href,
)

REFERENCE = Path(__file__).parent / "fixtures/reference"
PRODUCT = (
    "s3://sentinel-s1-l1c/GRD/2024/5/17/IW/DV/"
    "S1A_IW_GRDH_1SDV_20240517T093208_20240517T093240_053909_068D6C_DD7E"
)


def test_the_product_annotation_is_found_in_the_folder_not_through_the_rfi_asset():
    item = pystac.Item.from_file(str(REFERENCE / "s1-grd-v1-item.json"))
    assert item.assets["schema-product-vv"].href.endswith("annotation/rfi/rfi-iw-vv.xml")
    assert product_annotation_href(item, "vv") == f"{PRODUCT}/annotation/iw-vv.xml"
    assert product_annotation_href(item, "vh") == f"{PRODUCT}/annotation/iw-vh.xml"
    assert is_dual_pol_iw(item)
    item.properties["sar:polarizations"] = ["VV"]
    assert not is_dual_pol_iw(item)


def test_the_geolocation_grid_places_lon_lat_in_the_image():
    geo = s1.parse_geolocation((REFERENCE / "s1-grd-product-annotation-vv.xml").read_bytes())
    # At the grid points themselves: their own line and pixel.
    picks = [0, 57, 104, 209]
    for k in picks:
        lines, pixels = image_coordinates(
            geo, np.array([geo.longitude[k]]), np.array([geo.latitude[k]])
        )
        assert abs(lines[0] - geo.line[k]) < 1e-3 and abs(pixels[0] - geo.pixel[k]) < 1e-3
    # Halfway between two neighbouring points of a grid line: halfway in the image.
    a, b = 100, 101
    lines, pixels = image_coordinates(
        geo,
        np.array([(geo.longitude[a] + geo.longitude[b]) / 2]),
        np.array([(geo.latitude[a] + geo.latitude[b]) / 2]),
    )
    assert abs(pixels[0] - (geo.pixel[a] + geo.pixel[b]) / 2) < 1e-3
    assert abs(lines[0] - geo.line[a]) < 1e-3
    # Far outside the scene: nowhere.
    lines, _ = image_coordinates(geo, np.array([0.0]), np.array([0.0]))
    assert np.isnan(lines[0])


def test_a_jobs_annotations_are_read_with_one_client_of_the_sources_endpoint():
    access = S3Access(requester_pays=True, endpoint_url="http://127.0.0.1:9000")
    assert access.client is access.client
    assert access.client.meta.endpoint_url == "http://127.0.0.1:9000"
    # Another job's access has a client of its own, with the credentials found then.
    assert S3Access().client is not access.client


def test_a_scene_astride_the_antimeridian_places_points_on_both_sides_of_it():
    geo = s1.parse_geolocation((REFERENCE / "s1-grd-product-annotation-vv.xml").read_bytes())
    # The same grid moved east so that 180° runs through its middle, longitudes in [-180, 180)
    # as annotations give them.
    shift = 180.0 - float(np.median(geo.longitude))
    astride = dataclasses.replace(geo, longitude=wrapped(geo.longitude + shift))
    assert astride.longitude.min() < -179 and astride.longitude.max() > 179
    # Tile-like grids of points 0.3° west of 180° to 0.3° east of it, at the grid's mid latitudes.
    lats = np.linspace(*np.percentile(geo.latitude, [30, 70]), 40)
    for first, last in [(-0.3, -0.001), (-0.05, 0.05), (0.001, 0.3)]:
        offsets, at_lats = np.meshgrid(np.linspace(first, last, 60), lats)
        lines, pixels = image_coordinates(astride, wrapped(180.0 + offsets), at_lats)
        want_lines, want_pixels = image_coordinates(geo, 180.0 - shift + offsets, at_lats)
        assert np.isfinite(want_lines).all()
        assert np.isfinite(lines).all(), "points on one side of 180° fell outside the scene"
        assert np.abs(lines - want_lines).max() < 0.01
        assert np.abs(pixels - want_pixels).max() < 0.01


def wrapped(longitudes: np.ndarray) -> np.ndarray:
    return (longitudes + 180.0) % 360.0 - 180.0
