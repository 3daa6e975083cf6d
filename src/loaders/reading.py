"""How the loaders read remote COGs: GDAL settings and read parallelism."""

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
