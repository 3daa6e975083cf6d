"""Where the loaders read their sources (the spec's source settings), and the checks of the
sources a real run reads, made before any call is paid for."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

#: The Copernicus DEM's public bucket, as the DEM and S1 loaders read it (``<cell>/<cell>.tif``).
DEM_ROOT = "s3://copernicus-dem-30m"
#: PROJ's EGM2008 geoid grid (2.5 arc-minutes, public, a cloud-optimised GeoTIFF on PROJ's
#: CDN): the Copernicus DEM's vertical datum, which S1 adds to its heights.
GEOID_URL = "https://cdn.proj.org/us_nga_egm08_25.tif"


def aws_source_settings(
    product: str, stac_url: str, s3_endpoint_url: str = "", geoid: str = GEOID_URL
) -> dict:
    """The spec settings of a product reading the real buckets and the STAC API ``stac_url``
    (or, given ``s3_endpoint_url``, the same buckets served elsewhere: the code path is the
    same, only the endpoints differ), and S1 the geoid grid at ``geoid``."""
    settings: dict = {"stac": {"url": stac_url}} if product in ("s1", "s2") else {}
    if product in ("dem", "s1"):
        settings["dem_root"] = DEM_ROOT
    if product == "s1":
        settings["geoid"] = geoid
    if s3_endpoint_url:
        settings["source_s3_endpoint_url"] = s3_endpoint_url
    if product == "s1":
        # The GRD bucket is requester-pays: reads are signed and billed to the caller's
        # account; the DEM bucket is public and accepts the same signed reads.
        return settings | {"requester_pays": True, "gdal_env": {"AWS_REQUEST_PAYER": "requester"}}
    # The DEM bucket and the S2 items' COGs (public https URLs of sentinel-cogs) are read
    # unsigned.
    return settings | {"gdal_env": {"AWS_NO_SIGN_REQUEST": "YES"}}


def demo_source_settings(product: str, archive: str) -> dict:
    """The spec settings of a product reading the local demo archive at ``archive``."""
    # Imported here: the demo generator module loads GDAL, which a plan of real sources (the
    # workflow imports this module) need not hold in memory.
    from demo_archive.geoid import GEOID_PATH

    stac = {"stac": {"path": f"{archive}/stac"}}
    dem_root = {"dem_root": f"{archive}/copernicus-dem-30m"}
    geoid = {"geoid": f"{archive}/{GEOID_PATH}"}
    return {"dem": dem_root, "s1": stac | dem_root | geoid, "s2": stac}[product]


class SourceError(Exception):
    """A source cannot be used; the message names it and says what to do."""


def check_stac_api(url: str, timeout_seconds: float = 10, attempts: int = 3) -> None:
    """Ask the STAC API at ``url`` for its landing page; :class:`SourceError` unless it answers
    with a STAC catalogue. A few quick attempts, so that a blip does not stop a run, while an API
    that is down stops it within seconds, before the workers start and each pay for finding out.
    """
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(1)
        try:
            request = urllib.request.Request(url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:
                landing = json.loads(answer.read())
        except (urllib.error.URLError, OSError, ValueError) as err:
            problem = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            continue
        if isinstance(landing, dict) and landing.get("type") == "Catalog":
            return
        raise SourceError(
            f"{url} answered, but not with a STAC API landing page (no 'type': 'Catalog'), so "
            "nothing was submitted. Check the stac_url setting: it names the API's root, e.g. "
            "https://earth-search.aws.element84.com/v1."
        )
    raise SourceError(
        f"The STAC API {url} does not answer ({problem}, {attempts} attempts), so nothing was "
        "submitted: every job searches it first. Check the network and the API's status, or "
        "the stac_url setting (for the demo archive served on loopback, start python -m "
        "demo_archive.served first), then run again."
    )


def check_requester_pays_credentials() -> None:
    """:class:`SourceError` unless AWS credentials are found in the standard chain: the GRD
    bucket is requester-pays, so a worker on this machine signs its reads with them (a Lambda
    worker has its role's)."""
    import boto3

    if boto3.Session().get_credentials() is None:
        raise SourceError(
            "Sentinel-1 scenes come from the requester-pays bucket sentinel-s1-l1c: every read "
            "is signed and billed to your AWS account, and no AWS credentials were found, so "
            "nothing was submitted. Set them in the standard way (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or ~/.aws/credentials), or leave s1 out of "
            "products, e.g. --config products='[dem, s2]'."
        )
