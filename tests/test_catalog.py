"""Catalogue search: the local catalogue's filters, a STAC API that fails for a while, and one
that answers in pages and ignores the query."""

import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from demo_archive.dem import dem_item
from loaders import accounting
from loaders.catalog import Catalog, CatalogError, parse_datetime_range, search
from loaders.tiles import BBox, tile_bbox

DEMO_TILE = tile_bbox(-1.6944, 6.6389)
CELLS = [(6, -2), (6, -1), (7, -2)]


@pytest.fixture
def local_catalog(tmp_path):
    """Demo DEM items of three cells in a local catalogue."""
    folder = tmp_path / "stac" / "cop-dem-glo-30"
    folder.mkdir(parents=True)
    for lat, lon in CELLS:
        item = dem_item(lat, lon, "cell.tif")
        (folder / f"{item['id']}.json").write_text(json.dumps(item))
    return Catalog(path=str(tmp_path / "stac"))


def ids(items):
    return [item.id.split("_")[4] + item.id.split("_")[6] for item in items]


def test_local_search_keeps_the_items_whose_footprint_meets_the_box(local_catalog):
    year = "2021-01-01/2021-12-31"
    assert ids(search(local_catalog, "cop-dem-glo-30", DEMO_TILE, year)) == ["N06W002"]
    across = BBox(-1.1, 6.5, -0.9, 6.6)  # crosses the -1 meridian
    assert ids(search(local_catalog, "cop-dem-glo-30", across, year)) == ["N06W001", "N06W002"]
    assert search(local_catalog, "cop-dem-glo-30", BBox(10, 10, 11, 11), year) == []


def test_local_search_filters_by_datetime_and_query(local_catalog):
    assert search(local_catalog, "cop-dem-glo-30", DEMO_TILE, "2023-01-01/2023-12-31") == []
    assert len(search(local_catalog, "cop-dem-glo-30", DEMO_TILE, "../2021-04-22")) == 1
    year = "2021-01-01/2021-12-31"
    assert len(search(local_catalog, "cop-dem-glo-30", DEMO_TILE, year, {"gsd": {"eq": 30}})) == 1
    assert search(local_catalog, "cop-dem-glo-30", DEMO_TILE, year, {"gsd": {"lt": 30}}) == []
    assert (
        search(local_catalog, "cop-dem-glo-30", DEMO_TILE, year, {"eo:cloud_cover": {"lt": 50}})
        == []
    )


def test_a_box_across_the_antimeridian_finds_the_items_on_both_sides(tmp_path):
    folder = tmp_path / "stac" / "cop-dem-glo-30"
    folder.mkdir(parents=True)
    for lat, lon in [(-17, 179), (-17, -180), (-17, 170)]:
        item = dem_item(lat, lon, "cell.tif")
        (folder / f"{item['id']}.json").write_text(json.dumps(item))
    catalog = Catalog(path=str(tmp_path / "stac"))
    year = "2021-01-01/2021-12-31"
    fiji_clouds = BBox(179.55, -17.3, 180.39, -16.4)  # a cloud box reaching past 180
    assert ids(search(catalog, "cop-dem-glo-30", fiji_clouds, year)) == ["S17E179", "S17W180"]
    west_side = BBox(-180.4, -17.3, -179.6, -16.4)
    assert ids(search(catalog, "cop-dem-glo-30", west_side, year)) == ["S17E179", "S17W180"]


def test_local_catalogue_without_the_collection_says_so(local_catalog):
    with pytest.raises(CatalogError, match="no collection sentinel-2-l2a"):
        search(local_catalog, "sentinel-2-l2a", DEMO_TILE, "2023-01-01/2023-12-31")


def test_datetime_ranges_are_whole_days_in_utc():
    start, end = parse_datetime_range("2023-01-01/2023-12-31")
    assert start == datetime(2023, 1, 1, tzinfo=UTC)
    assert end == datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_datetime_range("../2023-02-01")[0] == datetime.min.replace(tzinfo=UTC)


#: What the test APIs declare they conform to, the query extension among it.
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
]


class FlakyStacApi(ThreadingHTTPServer):
    """A STAC API on loopback whose searches fail with 503 ``failures`` times first."""

    def __init__(self, failures: int, features: list[dict], port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.failures, self.features, self.searches = failures, features, 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = self.server.url
        self.reply(
            200,
            {
                "type": "Catalog",
                "id": "flaky",
                "stac_version": "1.0.0",
                "description": "test API",
                "conformsTo": getattr(self.server, "conformance", CONFORMANCE),
                "links": [
                    {"rel": "self", "href": url},
                    {"rel": "root", "href": url},
                    {
                        "rel": "search",
                        "href": f"{url}/search",
                        "method": "POST",
                        "type": "application/geo+json",
                    },
                ],
            },
        )

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.searches += 1
        if self.server.searches <= self.server.failures:
            self.reply(503, {"code": "Unavailable"})
        else:
            self.reply(200, {"type": "FeatureCollection", "features": self.server.features})


@pytest.fixture
def api(request):
    server = FlakyStacApi(request.param, [dem_item(6, -2, "https://example.invalid/x.tif")])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("api", [2], indirect=True)
def test_transient_api_failures_are_retried(api):
    catalog = Catalog(url=api.url, retries=3, backoff_seconds=0.01)
    items = search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31")
    assert ids(items) == ["N06W002"] and api.searches == 3


@pytest.mark.parametrize("api", [1000], indirect=True)
def test_an_api_that_stays_down_is_reported_clearly(api):
    catalog = Catalog(url=api.url, retries=2, backoff_seconds=0.01)
    started = time.monotonic()
    with pytest.raises(CatalogError, match=f"The STAC API {api.url} could not be searched"):
        search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31")
    assert api.searches == 3 and time.monotonic() - started < 10


def test_an_api_that_refuses_connections_for_a_moment_is_waited_for():
    with socket.socket() as probe:  # a free port, where nothing listens yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    servers = []

    def start_late():
        time.sleep(1.0)
        servers.append(FlakyStacApi(0, [dem_item(6, -2, "https://example.invalid/x.tif")], port))
        servers[0].serve_forever()

    threading.Thread(target=start_late, daemon=True).start()
    catalog = Catalog(url=f"http://127.0.0.1:{port}", retries=6, backoff_seconds=0.5)
    try:
        items = search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31")
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert ids(items) == ["N06W002"]


def test_an_unreachable_api_is_reported_clearly():
    catalog = Catalog(url="http://127.0.0.1:9", retries=1, backoff_seconds=0.01, timeout_seconds=2)
    with pytest.raises(CatalogError, match="Check the network"):
        search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31")


class PagingStacApi(ThreadingHTTPServer):
    """A STAC API on loopback answering searches in pages of the ``limit`` asked (10 without
    one, as Earth Search does), with a POST ``next`` link carrying a token, and ignoring any
    query, whether or not it declares the query extension (``conformance``)."""

    def __init__(self, features: list[dict], conformance: list[str]):
        super().__init__(("127.0.0.1", 0), _PagingHandler)
        self.features, self.conformance, self.searches = features, conformance, []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def limits(self) -> list[int]:
        return [search.get("limit", 10) for search in self.searches]


class _PagingHandler(_Handler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        limit, start = body.get("limit", 10), body.get("token", 0)
        self.server.searches.append(body)
        links = []
        if start + limit < len(self.server.features):
            links.append(
                {
                    "rel": "next",
                    "href": f"{self.server.url}/search",
                    "method": "POST",
                    "body": {"token": start + limit},
                    "merge": True,
                }
            )
        page = self.server.features[start : start + limit]
        self.reply(200, {"type": "FeatureCollection", "features": page, "links": links})


@pytest.fixture
def paging_api(request):
    """An API of 25 items of one cell, alternately 20 % and 80 % cloudy, declaring the query
    extension unless ``request.param`` is False."""
    features = []
    for number in range(25):
        item = dem_item(6, -2, "https://example.invalid/x.tif")
        item["id"] = f"item-{number:02d}"
        item["properties"]["eo:cloud_cover"] = 20 if number % 2 == 0 else 80
        features.append(item)
    declares_query = getattr(request, "param", True)
    server = PagingStacApi(features, CONFORMANCE if declares_query else CONFORMANCE[:2])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_api_is_searched_in_pages_of_the_catalogues_page_size(paging_api):
    account = accounting.start()
    catalog = Catalog(url=paging_api.url, page_size=10)
    items = search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31")
    assert len(items) == 25 and paging_api.limits == [10, 10, 10]
    assert account.searches == 3
    # The landing page and the three pages.
    assert account.traffic["stac"].requests == 4 and account.traffic["stac"].bytes > 0


def test_by_default_one_page_holds_a_hundred_items(paging_api):
    account = accounting.start()
    catalog = Catalog(url=paging_api.url)
    assert len(search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31")) == 25
    assert paging_api.limits == [100] and account.searches == 1


@pytest.mark.parametrize("paging_api", [True, False], indirect=True, ids=["query", "no query"])
def test_the_query_filters_an_apis_answer_here_whatever_the_api(paging_api):
    catalog = Catalog(url=paging_api.url)
    clear = {"eo:cloud_cover": {"lt": 50}}
    items = search(catalog, "cop-dem-glo-30", DEMO_TILE, "2021-01-01/2021-12-31", clear)
    assert [item.id for item in items] == [f"item-{n:02d}" for n in range(0, 25, 2)]
    # Only an API declaring the query extension is sent the query: one that does not may
    # answer nothing at all (rustac's server does).
    sent = [search.get("query") for search in paging_api.searches]
    assert sent == ([clear] if paging_api.conformance == CONFORMANCE else [None])
