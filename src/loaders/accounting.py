"""What a tile job's source reads cost: the HTTP requests and bytes of each client that reads
(GDAL, boto3, the STAC client), the STAC search pages, and the time spent reading.

One account per job, kept process-wide: the sources report to the current account from any of
their read threads, and :func:`loaders.jobs.run_job` opens the account with :func:`start` and
puts its :meth:`ReadAccount.summary` in the job's summary. A Lithops worker runs one call per
process (localhost: one runner process per call, which forks a JobRunner process for it; Lambda:
one invocation per execution environment at a time, and its call again in a forked JobRunner),
so the job's counts are the process's counts. GDAL's counters are process-wide as well.

GDAL counts its own requests (GDAL >= 3.2, setting ``CPL_VSIL_NETWORK_STATS_ENABLED``), in
functions rasterio does not wrap: they are called with ctypes in the libgdal the process has
loaded. Where they cannot be found, GDAL's counts are recorded as unavailable (None) and the job
goes on. GDAL logs one GET per parallel multi-range read, though that read sends one ranged GET
per run of consecutive blocks at once (``GDAL_HTTP_MULTIRANGE``'s default): GDAL's requests
are then fewer than the server answered, its bytes exact.

Standard library only: the sources import it, and ``loaders.jobs`` with the base dependencies.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: The GDAL setting that turns its network statistics on. GDAL reads it again at each
#: :func:`reset_gdal_counts` (the first request after the reset looks it up), not at each request.
GDAL_STATS_SETTINGS = {"CPL_VSIL_NETWORK_STATS_ENABLED": "YES"}


@dataclass
class Traffic:
    """HTTP requests made by one client and the bytes of their responses' bodies."""

    requests: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class WindowRead:
    """A window of a raster file that a source read: what the reads needed at the least (the
    COG blocks it intersects), for measuring how much more was fetched (bench/remote_reads.py)."""

    href: str
    overview_level: int | None
    """The overview read (GDAL's ``OVERVIEW_LEVEL``: 0 is the first), None for the full image."""
    col_off: float
    row_off: float
    width: float
    height: float


class ReadAccount:
    """The source reads of one job, counted by the sources as they read, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._busy_since = 0.0
        self.wait_seconds = 0.0
        """Wall seconds during which at least one source read was in progress (see
        :meth:`reading`): reads in parallel threads count once, not once per thread."""
        self.searches = 0
        """Pages of STAC search results fetched (an empty answer is a page too): each is one
        answered request to the search endpoint."""
        self.traffic = {"boto3": Traffic(), "stac": Traffic()}
        """The requests of the clients counted here; GDAL counts its own."""
        self.windows: list[WindowRead] = []
        """The raster windows read, in pixels of the image or overview read; kept in the
        process, not in the summary (an S2 job reads thousands)."""

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Mark one source read (a catalogue search, a file opened and its window read and
        decoded, an annotation fetched) as in progress while the block runs."""
        with self._lock:
            if self._in_flight == 0:
                self._busy_since = time.monotonic()
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self.wait_seconds += time.monotonic() - self._busy_since

    def count(self, client: str, requests: int, nbytes: int) -> None:
        """Add ``requests`` HTTP requests of ``client`` (``boto3`` or ``stac``) whose responses
        brought ``nbytes`` bytes."""
        with self._lock:
            self.traffic[client].requests += requests
            self.traffic[client].bytes += nbytes

    def note_window(self, window: WindowRead) -> None:
        with self._lock:
            self.windows.append(window)

    def count_search_page(self) -> None:
        """Add a page of STAC search results."""
        with self._lock:
            self.searches += 1

    def summary(self, gdal: Traffic | None) -> dict:
        """The job's ``reads`` as the run log keeps them, given GDAL's counts (None: GDAL's
        counters were not found, and the totals are those of the other clients)."""
        by_client = {"gdal": None if gdal is None else asdict(gdal)} | {
            client: asdict(traffic) for client, traffic in self.traffic.items()
        }
        counted = [traffic for traffic in by_client.values() if traffic is not None]
        return {
            "requests": sum(traffic["requests"] for traffic in counted),
            "bytes": sum(traffic["bytes"] for traffic in counted),
            "wait_seconds": round(self.wait_seconds, 3),
            "searches": self.searches,
            "by_client": by_client,
        }


_account = ReadAccount()


def start() -> ReadAccount:
    """A new account, which the sources report to from now on."""
    global _account
    _account = ReadAccount()
    return _account


def current() -> ReadAccount:
    """The account the sources report to: the running job's, or the last job's after it."""
    return _account


def note_window(href: str, overview_level: int | None, window) -> None:
    """Record that the window ``window`` (a rasterio Window, in pixels of the image or of the
    overview ``overview_level``) of the raster at ``href`` was read."""
    _account.note_window(
        WindowRead(
            href, overview_level, window.col_off, window.row_off, window.width, window.height
        )
    )


def reading() -> contextlib.AbstractContextManager[None]:
    """:meth:`ReadAccount.reading` of the current account."""
    return _account.reading()


def count_boto3_response(response_dict: dict | None = None, **_) -> None:
    """botocore's ``response-received`` handler: one HTTP request (each attempt of a call is
    one), and the body its Content-Length announces (0 when the request got no response)."""
    headers = (response_dict or {}).get("headers", {})
    _account.count("boto3", 1, int(headers.get("content-length", 0)))


def count_boto3_requests(client) -> None:
    """Count every HTTP request ``client`` (a boto3 client) makes in the current account."""
    client.meta.events.register("response-received", count_boto3_response)


def count_stac_response(response, *_, **__) -> None:
    """A ``requests`` response hook of the STAC client: the response's request and the retries
    urllib3 made before it (their responses' bodies are not counted: error pages, drained
    unread), and a search page if it answers the API's search endpoint, ``/search`` by the STAC
    API specification (a search's next pages are requests to it too)."""
    retries = getattr(getattr(response.raw, "retries", None), "history", ())
    _account.count("stac", 1 + len(retries), len(response.content))
    if urlsplit(response.url).path.rstrip("/").endswith("/search"):
        _account.count_search_page()


def loaded_gdal() -> str | None:
    """The path of the libgdal this process has loaded (rasterio's), or None if none is found:
    the process's memory map on Linux, else a rasterio wheel's bundled copy."""
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            path = line.split(maxsplit=5)[-1]
            if "/libgdal" in path and ".so" in path:
                return path
    import rasterio

    found = sorted((Path(rasterio.__file__).parent.parent / "rasterio.libs").glob("libgdal*"))
    return str(found[0]) if found else None


@functools.cache
def gdal_stats_functions() -> ctypes.CDLL | None:
    """The loaded libgdal, with the argument and result types of its network statistics
    functions set, or None if it has none of them or none is loaded."""
    path = loaded_gdal()
    if path is None:
        return None
    try:
        library = ctypes.CDLL(path)  # the already loaded library, not a second copy
        library.VSINetworkStatsReset.restype = None
        library.VSINetworkStatsGetAsSerializedJSON.argtypes = [ctypes.c_char_p]
        # A pointer, not c_char_p: the string is GDAL's to free, with VSIFree.
        library.VSINetworkStatsGetAsSerializedJSON.restype = ctypes.c_void_p
        library.VSIFree.argtypes = [ctypes.c_void_p]
        library.VSIFree.restype = None
    except (OSError, AttributeError):  # not loadable, or a GDAL older than 3.2
        return None
    return library


def reset_gdal_counts() -> bool:
    """Zero GDAL's counters, which count from now on if :data:`GDAL_STATS_SETTINGS` is in the
    GDAL environment, and stop counting if it is not. False if GDAL's counters are not found."""
    library = gdal_stats_functions()
    if library is None:
        return False
    library.VSINetworkStatsReset()
    return True


def gdal_traffic() -> Traffic | None:
    """GDAL's requests (every method: GET, HEAD...) and downloaded bytes since the last
    :func:`reset_gdal_counts`; None if GDAL's counters are not found."""
    library = gdal_stats_functions()
    if library is None:
        return None
    pointer = library.VSINetworkStatsGetAsSerializedJSON(None)
    try:
        stats = json.loads(ctypes.string_at(pointer).decode())
    finally:
        library.VSIFree(pointer)
    methods = stats.get("methods", {}).values()
    return Traffic(
        sum(method.get("count", 0) for method in methods),
        sum(method.get("downloaded_bytes", 0) for method in methods),
    )
