"""The scene's STAC item, shaped like Earth Search v1's ``sentinel-1-grd`` items."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon

from demo_archive.geojson import geojson_outline
from demo_archive.mgrs import unwrap_lon
from demo_archive.s1.annotation import geolocation_points
from demo_archive.s1.render import LOOKS, Simulation, footprint
from demo_archive.s1.scenes import (
    RFI_IPF,
    datatake_id,
    ipf_version,
    item_id,
    product_id,
    scene_times,
    timestamp,
)

#: Version of the generator, recorded in each item: bump it when scenes or layout change.
GENERATOR_VERSION = "3"
#: Properties of the real items left out, as in the DEM part (not in cloud storage, no Earth
#: Search workflow, no per-run times).
OMITTED_PROPERTIES = frozenset({"storage:platform", "storage:region", "created", "updated"})
_DESIGNATOR = {"S1A": "2014-016A", "S1B": "2016-025A"}


def s1_item(sim: Simulation, folder: Path, path: Path) -> dict:
    """The STAC item, with the keys and key order of Earth Search v1's ``sentinel-1-grd``
    items (less :data:`OMITTED_PROPERTIES`); hrefs relative to the item file. Mirrors two
    quirks: ``proj:*`` is a pseudo-grid over the bbox (shape [samples, lines]) and, from IPF
    3.40, ``schema-product-*`` points at the RFI annotation."""
    scene, grid = sim.scene, sim.grid
    start, stop = scene_times(scene)
    ring = footprint(scene)
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    geometry, bbox = geojson_outline(Polygon(ring))
    points = geolocation_points(scene)
    # Continuous across 180° for the pseudo-grid's size, written back within range.
    lons = unwrap_lon(points["longitude"], grid.centre_lon)
    pw, ps = float(lons.min()), float(points["latitude"].min())
    pe, pn = float(lons.max()), float(points["latitude"].max())
    span = [round(v, 6) for v in (pw, ps, pe, pn)]
    west, east = (round(float(unwrap_lon(lon, 0.0)), 6) for lon in (pw, pe))
    proj_bbox = [west, span[1], east, span[3]]
    shape = [grid.samples, grid.lines]
    base = Path(os.path.relpath(folder.resolve(), path.resolve().parent)).as_posix()
    new_ipf = ipf_version(scene.centre_time.date()) >= RFI_IPF
    product_annotation = "rfi/rfi-iw-{}.xml" if new_ipf else "iw-{}.xml"
    middle = start + (stop - start) / 2
    properties = {
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:observation_direction": "right",
        "sar:instrument_mode": "IW",
        "sar:polarizations": ["VV", "VH"],
        "sar:product_type": "GRD",
        "sar:resolution_range": 20,
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:pixel_spacing_azimuth": 10,
        "sar:looks_range": 5,
        "sar:looks_azimuth": 1,
        "sar:looks_equivalent_number": LOOKS,
        "sat:platform_international_designator": _DESIGNATOR[scene.platform],
        "sat:orbit_state": scene.pass_direction,
        "sat:absolute_orbit": scene.absolute_orbit,
        "sat:relative_orbit": scene.relative_orbit,
        "proj:epsg": 4326,
        "proj:bbox": proj_bbox,
        "proj:shape": shape,
        "proj:transform": [
            (span[2] - span[0]) / shape[1],
            0,
            proj_bbox[0],
            0,
            -(span[3] - span[1]) / shape[0],
            proj_bbox[3],
        ],  # fmt: skip
        "proj:centroid": {
            "lat": round(float(np.mean(ys[:-1])), 5),
            "lon": round(float(unwrap_lon(np.mean(xs[:-1]), 0.0)), 5),
        },
        "platform": f"sentinel-1{scene.platform[-1].lower()}",
        "constellation": "sentinel-1",
        "start_datetime": f"{timestamp(start)}Z",
        "end_datetime": f"{timestamp(stop)}Z",
        "s1:instrument_configuration_ID": "7",
        "s1:datatake_id": str(datatake_id(scene)),
        "s1:product_timeliness": "Fast-24h",
        "s1:processing_level": "1",
        "s1:resolution": "high",
        "s1:orbit_source": "RESORB",
        "s1:slice_number": "1",
        "s1:total_slices": "1",
        "s1:shape": shape,
        "s1:product_identifier": product_id(scene),
        "s1:processing_datetime": f"{timestamp(start + dt.timedelta(hours=2, minutes=17))}Z",
        "storage:requester_pays": True,
        "datetime": f"{timestamp(middle)}Z",
        "processing:software": {"ttc-ard-demo-archive": GENERATOR_VERSION},
    }

    def asset(href: str, kind: str, title: str, description: str, roles: list[str]) -> dict:
        return {
            "href": href,
            "type": kind,
            "title": title,
            "description": description,
            "roles": roles,
        }

    xml = "application/xml"
    assets = {
        "safe-manifest": asset(
            f"{base}/manifest.safe",
            xml,
            "Manifest File",
            _DESCRIPTIONS["safe-manifest"],
            ["metadata"],
        )
    }
    for pol in ("vh", "vv"):
        href = f"{base}/annotation/{product_annotation.format(pol)}"
        assets[f"schema-product-{pol}"] = asset(
            href, xml, f"{pol.upper()} Product Schema", _DESCRIPTIONS["product"], ["metadata"]
        )
    for pol in ("vh", "vv"):
        href = f"{base}/annotation/calibration/calibration-iw-{pol}.xml"
        assets[f"schema-calibration-{pol}"] = asset(
            href,
            xml,
            f"{pol.upper()} Calibration Schema",
            _DESCRIPTIONS["calibration"],
            ["metadata"],
        )
    for pol in ("vh", "vv"):
        href = f"{base}/annotation/calibration/noise-iw-{pol}.xml"
        assets[f"schema-noise-{pol}"] = asset(
            href, xml, f"{pol.upper()} Noise Schema", _DESCRIPTIONS["noise"], ["metadata"]
        )
    assets["thumbnail"] = asset(
        f"{base}/preview/quick-look.png",
        "image/png",
        "Preview Image",
        _DESCRIPTIONS["thumbnail"],
        ["thumbnail"],
    )
    for pol in ("vh", "vv"):
        data = asset(
            f"{base}/measurement/iw-{pol}.tiff",
            "image/tiff; application=geotiff; profile=cloud-optimized",
            f"{pol.upper()} Data",
            _DESCRIPTIONS["data"],
            ["data"],
        )
        data = {k: data[k] for k in ("href", "type", "title", "description")} | {
            "raster:bands": [{"nodata": 0, "data_type": "uint16"}],
            "roles": ["data"],
        }
        assets[pol] = data
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id(scene),
        "properties": properties,
        "geometry": geometry,
        "links": [{"rel": "collection", "type": "application/json", "href": "./collection.json"}],
        "assets": assets,
        "bbox": bbox,
        "stac_extensions": [
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
            "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
            "https://stac-extensions.github.io/storage/v1.0.0/schema.json",
        ],
        "collection": "sentinel-1-grd",
    }


#: Asset descriptions of the real items.
_DESCRIPTIONS = {
    "safe-manifest": (
        "General product metadata in XML format. Contains a high-level textual description "
        "of the product and references to all of product's components, the product metadata, "
        "including the product identification and the resource references, and references to "
        "the physical location of each component file contained in the product."
    ),
    "product": (
        "Describes the main characteristics corresponding to the band: state of the platform "
        "during acquisition, image properties, Doppler information, geographic location, etc."
    ),
    "calibration": (
        "Calibration metadata including calibration information and the beta nought, sigma "
        "nought, gamma and digital number look-up tables that can be used for absolute "
        "product calibration."
    ),
    "noise": "Estimated thermal noise look-up tables",
    "thumbnail": (
        "An averaged, decimated preview image in PNG format. Single polarization products "
        "are represented with a grey scale image. Dual polarization products are represented "
        "by a single composite colour image in RGB with the red channel (R) representing "
        "the  co-polarization VV or HH), the green channel (G) represents the "
        "cross-polarization (VH or HV) and the blue channel (B) represents the ratio of the "
        "cross an co-polarizations."
    ),
    "data": "Actual SAR data that have been processed into an image",
}
