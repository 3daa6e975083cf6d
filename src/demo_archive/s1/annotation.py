"""The scene's annotation files in the real schema: calibration, noise, product (with the
geolocation grid), RFI, and ``manifest.safe``. The LUTs are written from the generator's own
arrays (:mod:`demo_archive.s1.calibration`), the ones the DN are rendered with.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache

import numpy as np

from demo_archive.geoid import undulation
from demo_archive.mgrs import unwrap_lon
from demo_archive.s1.calibration import LUT_FORMAT, Calibration, Noise
from demo_archive.s1.radar import (
    EARTH_RADIUS_M,
    ORBIT_HEIGHT_M,
    PIXEL_SPACING_M,
    Cell,
    radar_grid,
)
from demo_archive.s1.scenes import (
    LINE_TIME_S,
    Scene,
    datatake_id,
    ipf_version,
    line_time,
    product_id,
    scene_times,
    timestamp,
)
from demo_archive.terrain import surface

#: Geolocation grid of the product annotation: lines x pixels (the real one is 10 x 21).
GEOLOCATION_SHAPE = (10, 21)


def calibration_xml(scene: Scene, pol: str, cal: Calibration) -> bytes:
    """The calibration annotation: one vector per LUT line, each LUT at the shared knots."""
    root = ET.Element("calibration")
    _ads_header(root, scene, pol)
    _add(_add(root, "calibrationInformation"), "absoluteCalibrationConstant", "1.000000e+00")
    vectors = _add(root, "calibrationVectorList", count=str(len(cal.lines)))
    for row, line in enumerate(cal.lines):
        vector = _add(vectors, "calibrationVector")
        _add(vector, "azimuthTime", timestamp(line_time(scene, line)))
        _add(vector, "line", line)
        _add_list(vector, "pixel", cal.pixels, "{:.0f}")
        for tag, values in cal.luts.items():
            _add_list(vector, tag, values[row], LUT_FORMAT)
    return _document(root)


def noise_xml(scene: Scene, pol: str, noise: Noise) -> bytes:
    """The thermal noise annotation: with azimuth vectors (IPF 2.90 and later) range and
    azimuth vector lists; without, the older ``noiseVectorList`` of range vectors alone."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    new_layout = bool(noise.azimuth)
    root = ET.Element("noise")
    _ads_header(root, scene, pol)
    list_tag, vector_tag, lut_tag = (
        ("noiseRangeVectorList", "noiseRangeVector", "noiseRangeLut")
        if new_layout
        else ("noiseVectorList", "noiseVector", "noiseLut")
    )
    vectors = _add(root, list_tag, count=str(len(noise.lines)))
    for line, values in zip(noise.lines, noise.range_values, strict=True):
        vector = _add(vectors, vector_tag)
        _add(vector, "azimuthTime", timestamp(line_time(scene, line)))
        _add(vector, "line", line)
        _add_list(vector, "pixel", noise.pixels, "{:.0f}")
        _add_list(vector, lut_tag, values, LUT_FORMAT)
    if new_layout:
        azimuth = _add(root, "noiseAzimuthVectorList", count=str(len(noise.azimuth)))
        for block in noise.azimuth:
            vector = _add(azimuth, "noiseAzimuthVector")
            _add(vector, "swath", block.swath)
            _add(vector, "firstAzimuthLine", 0)
            _add(vector, "firstRangeSample", block.first_sample)
            _add(vector, "lastAzimuthLine", grid.lines - 1)
            _add(vector, "lastRangeSample", block.last_sample)
            _add_list(vector, "line", block.lines, "{:.0f}")
            _add_list(vector, "noiseAzimuthLut", block.values, LUT_FORMAT)
    return _document(root)


def geolocation_points(scene: Scene) -> dict[str, np.ndarray]:
    """The geolocation grid: :data:`GEOLOCATION_SHAPE` points spread over the whole image,
    with the ground's height (a coarse DEM in real products) and the angles; read-only
    arrays, the same for every scene of the cell and pass."""
    return dict(geolocation_grid(scene.cell, scene.pass_direction))


@lru_cache(maxsize=8)
def geolocation_grid(cell: Cell, pass_direction: str) -> tuple[tuple[str, np.ndarray], ...]:
    """The geolocation grid of the cell's scenes on the pass, as (name, values) pairs."""
    # Cached: the heights cost a terrain evaluation, and every file of every date needs them.
    grid = radar_grid(cell, pass_direction)
    rows, cols = GEOLOCATION_SHAPE
    line = np.repeat(np.linspace(0, grid.lines - 1, rows).round(), cols)
    pixel = np.tile(np.linspace(0, grid.samples - 1, cols).round(), rows)
    lon, lat = grid.lonlat(line, pixel)
    theta = grid.incidence(pixel)
    ratio = EARTH_RADIUS_M / (EARTH_RADIUS_M + ORBIT_HEIGHT_M)
    columns = {
        "line": line,
        "pixel": pixel,
        "latitude": lat,
        # Real annotations keep longitudes within [-180, 180]: across 180° the grid jumps.
        "longitude": unwrap_lon(lon, 0.0),
        # Above the ellipsoid, as in real annotations: the terrain's height plus the geoid's.
        "height": surface(lon, lat).elevation.astype(np.float64) + undulation(lon, lat),
        "incidenceAngle": theta,
        "elevationAngle": np.degrees(np.arcsin(ratio * np.sin(np.radians(theta)))),
    }
    for values in columns.values():
        values.setflags(write=False)
    return tuple(columns.items())


def product_xml(scene: Scene, pol: str) -> bytes:
    """The product annotation, reduced to what a GRD reader uses: pass, heading, image size
    and spacing, and the geolocation grid (the real one also has orbits, attitude, Doppler
    and antenna patterns)."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    start, stop = scene_times(scene)
    root = ET.Element("product")
    _ads_header(root, scene, pol)
    info = _add(_add(root, "generalAnnotation"), "productInformation")
    _add(info, "pass", scene.pass_direction.capitalize())
    _add(info, "timelinessCategory", "Fast-24h")
    _add(info, "platformHeading", f"{grid.heading_deg:.15e}")
    _add(info, "projection", "Ground Range")
    _add(info, "radarFrequency", "5.405000454334350e+09")
    image = _add(_add(root, "imageAnnotation"), "imageInformation")
    for tag, text in (
        ("productFirstLineUtcTime", timestamp(start)),
        ("productLastLineUtcTime", timestamp(stop)),
        ("productComposition", "Slice"),
        ("pixelValue", "Detected"),
        ("outputPixels", "16 bit Unsigned Integer"),
        ("rangePixelSpacing", f"{PIXEL_SPACING_M:.6e}"),
        ("azimuthPixelSpacing", f"{PIXEL_SPACING_M:.6e}"),
        ("azimuthTimeInterval", f"{LINE_TIME_S:.15e}"),
        ("numberOfSamples", grid.samples),
        ("numberOfLines", grid.lines),
        ("incidenceAngleMidSwath", f"{float(grid.incidence(grid.samples / 2)):.15e}"),
    ):
        _add(image, tag, text)
    points = geolocation_points(scene)
    point_list = _add(
        _add(root, "geolocationGrid"), "geolocationGridPointList", count=str(len(points["line"]))
    )
    for k in range(len(points["line"])):
        point = _add(point_list, "geolocationGridPoint")
        _add(point, "azimuthTime", timestamp(line_time(scene, points["line"][k])))
        for tag in ("line", "pixel"):
            _add(point, tag, int(points[tag][k]))
        for tag in ("latitude", "longitude", "height", "incidenceAngle", "elevationAngle"):
            _add(point, tag, f"{points[tag][k]:.15e}")
    return _document(root)


def rfi_xml(scene: Scene, pol: str) -> bytes:
    """A minimal RFI annotation (IPF 3.40 and later): no interference found."""
    root = ET.Element("rfi")
    _ads_header(root, scene, pol)
    _add(root, "rfiMitigationApplied", "None")
    _add(root, "rfiDetectionFromNoiseReportList", count="0")
    _add(root, "rfiBurstReportList", count="0")
    return _document(root)


def manifest_safe(scene: Scene) -> bytes:
    """A minimal ``manifest.safe``: the product name and the IPF version that made it."""
    root = ET.Element(
        "xfdu:XFDU",
        {
            "xmlns:xfdu": "urn:ccsds:schema:xfdu:1",
            "version": "esa/safe/sentinel-1.0/sentinel-1/sar/level-1/standard/iwdp",
        },
    )
    meta = _add(_add(root, "metadataSection"), "metadataObject", ID="processing")
    _add(meta, "software", name="Sentinel-1 IPF", version=ipf_version(scene.centre_time.date()))
    _add(meta, "productName", product_id(scene) + ".SAFE")
    return _document(root)


def _ads_header(root: ET.Element, scene: Scene, pol: str) -> None:
    start, stop = scene_times(scene)
    header = _add(root, "adsHeader")
    for tag, text in (
        ("missionId", scene.platform),
        ("productType", "GRD"),
        ("polarisation", pol.upper()),
        ("mode", "IW"),
        ("swath", "IW"),
        ("startTime", timestamp(start)),
        ("stopTime", timestamp(stop)),
        ("absoluteOrbitNumber", scene.absolute_orbit),
        ("missionDataTakeId", datatake_id(scene)),
        ("imageNumber", "001" if pol == "vh" else "002"),
    ):
        _add(header, tag, text)


def _add(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = str(text)
    return element


def _add_list(parent: ET.Element, tag: str, values: np.ndarray, fmt: str) -> None:
    _add(parent, tag, " ".join(fmt.format(v) for v in values), count=str(len(values)))


def _document(root: ET.Element) -> bytes:
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
