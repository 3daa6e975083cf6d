"""One catalogue search for every loader: a STAC API (Earth Search v1 for real runs) or the
demo archive's local catalogue (``<archive>/stac/<collection>/*.json``), same answers.

Transient API failures (timeouts, connection errors, 429, 5xx) are retried with jittered
exponential backoff by urllib3 under pystac-client, then reported as :class:`CatalogError`.
An empty result is not an error here: whether no scene is a problem is the tile's business.
An API's results are filtered by the query here, as the local catalogue's are, and the query is
sent only to an API that declares the query extension (one that does not may ignore it, or answer
nothing at all, as rustac's server does): whichever the server, the answer is the same. Searches
and their pages are counted in the job's reads (:mod:`loaders.accounting`).
"""

from __future__ import annotations

import json
import operator
from datetime import UTC, datetime
from pathlib import Path

import pystac
from shapely.geometry import box, shape
from urllib3.util.retry import Retry

from loaders import accounting
from loaders.spec import Catalog
from loaders.tiles import BBox

#: Earth Search v1, where the real Sentinel and Copernicus DEM items are.
EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
_COMPARISONS = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


class CatalogError(Exception):
    """The catalogue could not be searched; the message names it and says what to check."""


def search(
    catalog: Catalog,
    collection: str,
    bbox: BBox,
    datetime_range: str,
    query: dict | None = None,
) -> list[pystac.Item]:
    """Items of ``collection`` whose footprint intersects ``bbox``, within ``datetime_range``
    (``"2023-01-01/2023-12-31"``) and matching ``query`` (STAC query extension, e.g.
    ``{"eo:cloud_cover": {"lt": 50}}``), sorted by datetime then id."""
    found: dict[str, pystac.Item] = {}
    for part in split_at_antimeridian(bbox):
        with accounting.reading():
            if catalog.path is not None:
                items = local_search(Path(catalog.path), collection, part, datetime_range, query)
            else:
                items = api_search(catalog, collection, part, datetime_range, query)
        for item in items:
            found.setdefault(item.id, item)
    return sorted(
        found.values(),
        key=lambda item: (item.datetime or datetime.min.replace(tzinfo=UTC), item.id),
    )


def split_at_antimeridian(bbox: BBox) -> list[BBox]:
    """The box as one or two boxes within -180..180 degrees. A box reaching past the
    antimeridian (the cloud box around a Fiji tile) is searched on both sides: the items
    beyond it have footprints near the other end of the longitudes, and STAC APIs refuse
    longitudes outside -180..180."""
    if bbox.east > 180:
        return [
            BBox(bbox.west, bbox.south, 180.0, bbox.north),
            BBox(-180.0, bbox.south, bbox.east - 360, bbox.north),
        ]
    if bbox.west < -180:
        return [
            BBox(bbox.west + 360, bbox.south, 180.0, bbox.north),
            BBox(-180.0, bbox.south, bbox.east, bbox.north),
        ]
    return [bbox]


def api_search(catalog, collection, bbox, datetime_range, query) -> list[pystac.Item]:
    """The API's answer, fetched in pages of ``catalog.page_size`` items, filtered by ``query``
    here (and there too if the API declares the query extension)."""
    from pystac_client import Client, ConformanceClasses
    from pystac_client.stac_api_io import StacApiIO

    retry = Retry(
        total=catalog.retries,
        backoff_factor=catalog.backoff_seconds,
        backoff_jitter=catalog.backoff_seconds,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # searches are POSTs, safe to repeat
        raise_on_status=False,
    )
    stac_io = StacApiIO(max_retries=retry, timeout=catalog.timeout_seconds)
    stac_io.session.hooks["response"].append(accounting.count_stac_response)
    try:
        client = Client.open(catalog.url, stac_io=stac_io)
        found = client.search(
            collections=[collection],
            bbox=[bbox.west, bbox.south, bbox.east, bbox.north],
            datetime=datetime_range,
            query=query if client.conforms_to(ConformanceClasses.QUERY) else None,
            limit=catalog.page_size,
        )
        return [item for item in found.items() if matches(item.properties, query or {})]
    except Exception as err:  # pystac-client and requests raise many types for one cause
        raise CatalogError(
            f"The STAC API {catalog.url} could not be searched for {collection} after "
            f"{catalog.retries} retries: {err}. Check the network and the API's status, "
            "then run again."
        ) from err


def local_search(folder: Path, collection, bbox, datetime_range, query) -> list[pystac.Item]:
    """The local catalogue's answer, with the same filters as a STAC API."""
    items_folder = folder / collection
    if not items_folder.is_dir():
        raise CatalogError(
            f"The local catalogue {folder} has no collection {collection} "
            f"({items_folder} is missing). Generate the demo archive for this request."
        )
    start, end = parse_datetime_range(datetime_range)
    area = box(bbox.west, bbox.south, bbox.east, bbox.north)
    found = []
    for path in sorted(items_folder.glob("*.json")):
        record = json.loads(path.read_text())
        if (
            shape(record["geometry"]).intersects(area)
            and start <= item_datetime(record) <= end
            and matches(record["properties"], query or {})
        ):
            item = pystac.Item.from_dict(record)
            item.set_self_href(str(path))
            found.append(item)
    return found


def parse_datetime_range(datetime_range: str) -> tuple[datetime, datetime]:
    """``"2023-01-01/2023-12-31"`` (dates are whole days, ``..`` open) as UTC bounds."""
    start_text, _, end_text = datetime_range.partition("/")
    end_text = end_text or start_text

    def bound(text: str, end: bool) -> datetime:
        if text in ("", ".."):
            return (datetime.max if end else datetime.min).replace(tzinfo=UTC)
        if len(text) == 10:
            text += "T23:59:59.999999" if end else "T00:00:00"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    return bound(start_text, end=False), bound(end_text, end=True)


def item_datetime(record: dict) -> datetime:
    properties = record["properties"]
    text = properties.get("datetime") or properties["start_datetime"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def matches(properties: dict, query: dict) -> bool:
    """Whether ``properties`` satisfy a STAC query-extension filter."""
    return all(
        name in properties and _COMPARISONS[op](properties[name], value)
        for name, conditions in query.items()
        for op, value in conditions.items()
    )
