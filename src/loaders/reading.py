"""How the loaders read remote COGs: GDAL settings, read parallelism, and the path GDAL reads
a file by."""

import re

#: GDAL settings for COGs over HTTP and S3: no directory listings, retries of transient errors,
#: and a cache, so that a file opened twice (its overviews looked up, then read) is fetched once.
GDAL_READ_SETTINGS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff",
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "VSI_CACHE": "TRUE",
}
#: Reads run in threads: GDAL releases the GIL, and remote reads mostly wait on the network.
READ_THREADS = 8

#: An object's https URL on AWS, virtual-hosted style: ``https://<bucket>.s3[.<region>].
#: amazonaws.com/<key>`` (Earth Search's hrefs of the sentinel-cogs COGs).
_S3_OBJECT_URL = re.compile(
    r"https://(?P<bucket>[a-z0-9.-]+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/(?P<key>.+)"
)


def gdal_path(href: str) -> str:
    """The URL GDAL reads the file at ``href`` by: the ``s3://`` URL of an object given by its
    https URL on AWS, ``href`` itself otherwise. GDAL opens an https URL with a HEAD and then a
    GET, an ``s3://`` one with a single GET (half the round trips of each file opened, which an
    S2 tile does hundreds of times), and reaches it through the sources' S3 endpoint, the
    served demo archive's as well as AWS's."""
    found = _S3_OBJECT_URL.fullmatch(href)
    return f"s3://{found['bucket']}/{found['key']}" if found else href
