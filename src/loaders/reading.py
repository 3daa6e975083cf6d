"""How the loaders read remote COGs: GDAL settings, read parallelism, and the path GDAL reads
a file by."""

import re
from concurrent.futures import ThreadPoolExecutor

#: GDAL settings for COGs over HTTP and S3: no directory listings, and retries of transient
#: errors. No VSI_CACHE: /vsicurl/'s own cache of downloaded ranges (per process) already serves
#: a file opened twice (its overviews looked up, then read), whereas VSI_CACHE reads 32 KB-aligned
#: chunks, which cost an S2 band file a second request for bytes the block reads fetch again
#: (bench/remote_reads.py: 1,378 -> 960 requests and 19.0 -> 12.9 MB for a demo S2 tile), and
#: with it a throttled read while GDAL opens a COG fails the opening as "not recognized as being
#: in a supported file format", which reads as a corrupt file (``bad_data``, not retried).
GDAL_READ_SETTINGS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff",
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "1",
}
#: Reads run in threads: GDAL releases the GIL, and remote reads mostly wait on the network.
READ_THREADS = 8
#: What a rasterio session sets in the environment, and rasterio.Env refuses to be given.
_CREDENTIAL_SETTINGS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def read_pool(threads: int = READ_THREADS) -> ThreadPoolExecutor:
    """A pool of ``threads`` threads that read inside the calling thread's GDAL settings.

    rasterio keeps its environment per thread: a thread without one gets a default environment
    built at every open, ~45 ms of Python holding the GIL, which serialised the pool's reads
    (126 SCL reads from GDAL's cache: 6.2 s in eight such threads, 1.0 s in eight that entered
    the settings once). Each thread enters the settings once, for its life. Credentials are
    left out (rasterio refuses them as settings): an ``s3://`` open gets them from its own
    session, as in the calling thread."""
    import rasterio.env  # the worker's: this module imports with the base dependencies

    settings = rasterio.env.getenv() if rasterio.env.hasenv() else {}
    settings = {k: v for k, v in settings.items() if k not in _CREDENTIAL_SETTINGS}
    return ThreadPoolExecutor(threads, initializer=_enter_gdal_settings, initargs=(settings,))


def _enter_gdal_settings(settings: dict) -> None:
    import rasterio

    # Left when the thread ends with its pool; the caller's own environment is unchanged.
    rasterio.Env(**settings).__enter__()


#: An object's https URL on AWS, virtual-hosted style: ``https://<bucket>.s3[.<region>].
#: amazonaws.com/<key>`` (Earth Search's hrefs of the sentinel-cogs COGs).
_S3_OBJECT_URL = re.compile(
    r"https://(?P<bucket>[a-z0-9.-]+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/(?P<key>.+)"
)


def object_url(href: str) -> str:
    """The ``s3://`` URL of an S3 object given by its https URL on AWS; ``href`` otherwise."""
    found = _S3_OBJECT_URL.fullmatch(href)
    return f"s3://{found['bucket']}/{found['key']}" if found else href


def gdal_path(href: str) -> str:
    """The path GDAL opens the file at ``href`` by: an S3 object (its ``s3://`` URL or its
    https URL on AWS) through GDAL's own S3 reader, ``/vsis3/<bucket>/<key>``; ``href`` itself
    otherwise. Against an https URL GDAL sends a HEAD and then a GET to open a file, against
    ``/vsis3/`` one GET, through the sources' S3 endpoint (AWS's, or the served demo archive's).
    And rasterio hands a ``/vsis3/`` path to GDAL as it is, whereas for an ``s3://`` URL it
    builds a boto3 session at every open: ~25 ms of Python holding the GIL, which serialised an
    S2 tile's hundreds of parallel reads. The S2 reads that take this path are unsigned
    (``AWS_NO_SIGN_REQUEST``); a signed one would take its credentials from GDAL's own chain
    (the environment, ``~/.aws``, the Lambda role), not from a rasterio session."""
    url = object_url(href)
    return "/vsis3/" + url.removeprefix("s3://") if url.startswith("s3://") else href
