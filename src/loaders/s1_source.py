"""Sentinel-1 GRD sources of a tile: items, their annotation files, and the tile's window of a
scene in radar geometry, calibrated there and resampled onto the tile's grid. The arithmetic
is :mod:`loaders.s1`'s pure functions; this module fetches and places.

A GRD image has no affine transform: its product annotation's geolocation grid ties image
(line, pixel) to lon/lat at a few hundred points. The tile's pixel centres are located in the
image by linear interpolation over the triangulation of those points, the image window around
them is read and calibrated with the annotation LUTs on that window's own lines and pixels,
and gamma0 (linear power) is resampled bilinearly onto the tile's pixels.
"""

from __future__ import annotations

import functools
import math
import posixpath
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from scipy.interpolate import LinearNDInterpolator
from scipy.ndimage import map_coordinates
from shapely import contains_xy
from shapely.geometry import shape

from loaders import accounting, s1
from loaders.catalog import search
from loaders.errors import TileDataError, read_error
from loaders.spec import Catalog
from loaders.tiles import Tile

COLLECTION = "sentinel-1-grd"
POLARISATIONS = ("vv", "vh")
#: Extra image pixels read around the tile's footprint, for the bilinear resampling.
WINDOW_MARGIN_PX = 2
#: Side of the coarse grid over the tile on which scene footprints are compared.
FOOTPRINT_CELLS = 20


def search_scenes(catalog: Catalog, tile: Tile) -> list[pystac.Item]:
    """The IW VV+VH scenes over the tile in its year's quarters; :class:`TileDataError`
    ``no_data`` if there is none."""
    found = search(catalog, COLLECTION, tile.bbox, f"{tile.year}-01-01/{tile.year}-12-31")
    scenes = [
        item
        for item in found
        if is_dual_pol_iw(item) and s1.quarter_of(item.datetime, tile.year) is not None
    ]
    if not scenes:
        raise TileDataError(
            "no_data",
            f"no Sentinel-1 IW VV+VH scene in the {tile.year} quarters over {tile.tag} "
            f"({len(found)} item(s) in the year) in {catalog.url or catalog.path}.",
        )
    return scenes


def is_dual_pol_iw(item: pystac.Item) -> bool:
    """Whether an item is an IW scene with both VV and VH (the contract's two bands)."""
    properties = item.properties
    polarisations = {p.upper() for p in properties.get("sar:polarizations", [])}
    return properties.get("sar:instrument_mode") == "IW" and {"VV", "VH"} <= polarisations


def footprint_cells(item: pystac.Item, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Which of the points ``lons``, ``lats`` (arrays of one shape) the item's footprint
    contains. Footprints lie within [-180, 180], as do the points looked up."""
    return contains_xy(shape(item.geometry), longitude_offsets(lons, 0.0), lats)


def scene_footprints(scenes: list[pystac.Item], lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """(scenes, n, n) bool: which cells of a coarse n x n grid (:data:`FOOTPRINT_CELLS`) over
    the tile's pixel centres ``lons``, ``lats`` (two (H, W) arrays) each scene covers."""
    rows = np.linspace(0, lons.shape[0] - 1, FOOTPRINT_CELLS).round().astype(int)
    columns = np.linspace(0, lons.shape[1] - 1, FOOTPRINT_CELLS).round().astype(int)
    coarse = np.ix_(rows, columns)
    return np.stack([footprint_cells(item, lons[coarse], lats[coarse]) for item in scenes])


@dataclass(frozen=True)
class S3Access:
    """How the annotation files are read from S3: one per job."""

    requester_pays: bool = False
    """Whether the reads are billed to the reader (the GRD bucket's rule)."""
    endpoint_url: str | None = None
    """The S3 endpoint of the sources; None for AWS's."""

    @functools.cached_property
    def client(self):
        """The boto3 client of the reads, made on first use, its requests counted in the job's
        reads (:mod:`loaders.accounting`). From a session of its own: a client is safe to share
        between the read threads but boto3's default session is not, and it would keep the
        credentials it found first for the whole process."""
        import boto3

        client = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url)
        accounting.count_boto3_requests(client)
        return client


def read_bytes(href: str, access: S3Access | None = None) -> bytes:
    """A file's bytes from S3 (the S1 bucket is requester-pays: the reader's account pays) as
    ``access`` says (None: a new one's defaults), over http(s), or from a local path."""
    what = f"Sentinel-1 annotation {posixpath.basename(href)}"
    try:
        with accounting.reading():
            if href.startswith("s3://"):
                return s3_object(href, access or S3Access())
            if href.startswith(("http://", "https://")):
                with urllib.request.urlopen(href, timeout=60) as response:
                    return response.read()
            return Path(href).read_bytes()
    except Exception as err:  # boto3, urllib and the file system each raise their own types
        raise read_error(what, href, err) from err


def s3_object(url: str, access: S3Access) -> bytes:
    """The bytes of the object at the ``s3://`` ``url``."""
    bucket, _, key = url[len("s3://") :].partition("/")
    extra = {"RequestPayer": "requester"} if access.requester_pays else {}
    return access.client.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()


@dataclass(frozen=True)
class SceneAnnotations:
    """What calibrating one polarisation of a scene needs, from its annotation files."""

    geolocation: s1.Geolocation
    calibration: s1.CalibrationLUT
    noise: s1.NoiseLUT


def product_annotation_href(item: pystac.Item, pol: str) -> str:
    """The product annotation (``annotation/<mode>-<pol>.xml``) of the item's product folder.

    Not the item's ``schema-product-<pol>`` asset: for products with an ``rfi/`` folder (IPF
    3.40 on) Earth Search points it at the RFI annotation, which has no geolocation grid. The
    calibration file sits in ``annotation/calibration/``, so the folder is two levels up."""
    calibration = item.assets[f"schema-calibration-{pol}"].get_absolute_href()
    annotation_folder = posixpath.dirname(posixpath.dirname(calibration))
    mode = item.properties.get("sar:instrument_mode", "IW").lower()
    return f"{annotation_folder}/{mode}-{pol}.xml"


def scene_annotations(item: pystac.Item, pol: str, access: S3Access) -> SceneAnnotations:
    def fetch(href: str) -> bytes:
        return read_bytes(href, access)

    try:
        return SceneAnnotations(
            s1.parse_geolocation(fetch(product_annotation_href(item, pol))),
            s1.parse_calibration(
                fetch(item.assets[f"schema-calibration-{pol}"].get_absolute_href())
            ),
            s1.parse_noise(fetch(item.assets[f"schema-noise-{pol}"].get_absolute_href())),
        )
    except ValueError as err:  # the parsers' complaints about a malformed annotation
        raise TileDataError("bad_data", f"Sentinel-1 {item.id} {pol}: {err}") from err


def image_coordinates(
    geolocation: s1.Geolocation,
    lons: np.ndarray,
    lats: np.ndarray,
    heights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(line, pixel) in the image of each of the points ``lons``, ``lats`` (arrays of one
    shape), NaN outside the geolocation grid (outside the scene).

    The grid's points are linear over their triangulation; between them it places a point as
    if it lay at the grid's heights there (interpolated in the image, :func:`s1.grid_values_at`).
    Given the points' own ``heights`` (metres, same shape), each is moved in range to where a
    point at its height is imaged (:func:`loaders.s1.relief_shift_px`): on a hillside hundreds
    of metres above the grid's heights that is tens of pixels."""
    # Longitudes as offsets from the first wanted one, in [-180, 180): a scene astride 180°
    # then stays one piece instead of spanning the globe, and so does a tile beside it.
    reference = float(lons.flat[0])
    points = np.column_stack(
        [longitude_offsets(geolocation.longitude, reference), geolocation.latitude]
    )
    values = np.column_stack([geolocation.line, geolocation.pixel]).astype(np.float64)
    located = LinearNDInterpolator(points, values)(longitude_offsets(lons, reference), lats)
    lines, pixels = located[..., 0], located[..., 1]
    if heights is None:
        return lines, pixels
    grid_heights, incidence = s1.grid_values_at(
        geolocation, (geolocation.height, geolocation.incidence_angle), lines, pixels
    )
    shift = s1.relief_shift_px(heights, grid_heights, incidence, geolocation.range_pixel_spacing)
    return lines, pixels - shift


def longitude_offsets(longitudes: np.ndarray, reference: float) -> np.ndarray:
    """Degrees east of ``reference`` of each longitude, in [-180, 180)."""
    return (np.asarray(longitudes, dtype=np.float64) - reference + 180.0) % 360.0 - 180.0


@dataclass(frozen=True)
class TileGamma0:
    """One polarisation of one scene on the tile's grid: gamma0 on the ellipsoid (linear
    power, NaN where the scene has no data), the ellipsoid incidence angle, and the azimuth
    the radar looked toward."""

    gamma0: np.ndarray
    incidence_deg: np.ndarray
    look_azimuth_deg: float


def tile_gamma0(
    item: pystac.Item,
    pol: str,
    notes: SceneAnnotations,
    lons: np.ndarray,
    lats: np.ndarray,
    heights: np.ndarray,
) -> TileGamma0 | None:
    """A scene's gamma0 of one polarisation at the tile grid's pixel centres ``lons``, ``lats``
    of ground ``heights`` (above the ellipsoid), as its annotations ``notes`` locate and
    calibrate it; None if it misses the tile."""
    try:
        look = s1.look_azimuth(notes.geolocation.pass_direction, notes.geolocation.platform_heading)
    except ValueError as err:
        raise TileDataError("bad_data", f"Sentinel-1 {item.id}: {err}") from err
    lines, pixels = image_coordinates(notes.geolocation, lons, lats, heights)
    inside = np.isfinite(lines)
    if not inside.any():
        return None
    first_line = max(math.floor(np.nanmin(lines)) - WINDOW_MARGIN_PX, 0)
    first_pixel = max(math.floor(np.nanmin(pixels)) - WINDOW_MARGIN_PX, 0)
    last_line = min(
        math.ceil(np.nanmax(lines)) + WINDOW_MARGIN_PX, notes.geolocation.number_of_lines - 1
    )
    last_pixel = min(
        math.ceil(np.nanmax(pixels)) + WINDOW_MARGIN_PX, notes.geolocation.number_of_samples - 1
    )
    if last_line < first_line or last_pixel < first_pixel:
        return None
    href = item.assets[pol].get_absolute_href()
    window = Window(
        first_pixel, first_line, last_pixel - first_pixel + 1, last_line - first_line + 1
    )
    try:
        accounting.note_window(href, None, window)
        with accounting.reading(), rasterio.open(href) as src:
            dn = src.read(1, window=window)
    except RasterioIOError as err:
        raise read_error(f"Sentinel-1 {pol} image of {item.id}", href, err) from err
    at_lines = np.arange(first_line, first_line + dn.shape[0], dtype=np.float64)
    at_pixels = np.arange(first_pixel, first_pixel + dn.shape[1], dtype=np.float64)
    cal = notes.calibration
    power = s1.gamma0(
        dn,
        s1.interpolate_lut(cal.lines, cal.pixels, cal.gamma, at_lines, at_pixels),
        s1.thermal_noise(notes.noise, at_lines, at_pixels),
    )
    incidence = s1.incidence_angle(notes.geolocation, at_lines, at_pixels)
    rows = np.where(inside, lines - first_line, -1.0)
    cols = np.where(inside, pixels - first_pixel, -1.0)
    # Bilinear in linear power; a NaN neighbour (no data) makes the pixel NaN, as it should.
    on_tile = map_coordinates(power, [rows, cols], order=1, mode="constant", cval=np.nan)
    angle = map_coordinates(incidence, [rows, cols], order=1, mode="nearest")
    return TileGamma0(on_tile.astype(np.float32), angle.astype(np.float32), look)
