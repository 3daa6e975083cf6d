"""The demo archive served like AWS on loopback, for tests and benchmarks of the real-source
code path: the buckets ``sentinel-cogs``, ``sentinel-s1-l1c`` (requester pays) and
``copernicus-dem-30m`` in moto's S3 behind a proxy that adds S3-like latency, a bandwidth cap
and faults, and the items in a STAC API server (rustac) with Earth Search v1's hrefs.

``python -m demo_archive.served ARCHIVE`` serves an archive until Ctrl-C; tests use
:func:`serve_archive`.
"""

from demo_archive.served.archive import ArchiveNotFound, HostError, ServedArchive, serve_archive
from demo_archive.served.proxy import Faults, ProxySettings, RequestLog, RequestRecord
from demo_archive.served.publish import BUCKETS, CREDENTIALS, REQUESTER_PAYS_BUCKETS
from demo_archive.served.stac_api import StacServerError

__all__ = [
    "BUCKETS",
    "CREDENTIALS",
    "REQUESTER_PAYS_BUCKETS",
    "ArchiveNotFound",
    "Faults",
    "HostError",
    "ProxySettings",
    "RequestLog",
    "RequestRecord",
    "ServedArchive",
    "StacServerError",
    "serve_archive",
]
