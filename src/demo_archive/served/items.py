"""The demo archive's STAC items as Earth Search v1 publishes them, pointing at the served
buckets: asset hrefs absolute, in Earth Search's form per bucket, and no links to local files.

Earth Search gives ``sentinel-cogs`` assets as the objects' https URLs on AWS
(``https://sentinel-cogs.s3.us-west-2.amazonaws.com/<key>``), and the requester-pays GRD files
and the DEM as ``s3://<bucket>/<key>``: the served items carry exactly these hrefs. The loaders
read an https URL of a bucket as its ``s3://`` URL through the sources' S3 endpoint
(``loaders.reading.gdal_path``), so that on loopback they reach the served buckets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from demo_archive.served.publish import BUCKETS

#: The STAC folder of the archive and the collections published from it.
STAC_FOLDER = "stac"
COLLECTIONS = ("sentinel-2-l2a", "sentinel-1-grd", "cop-dem-glo-30")
#: Buckets whose assets Earth Search gives as https URLs (their AWS address); the others as
#: ``s3://`` URLs.
HTTP_BUCKETS = {"sentinel-cogs": "https://sentinel-cogs.s3.us-west-2.amazonaws.com"}


def served_href(href: str, item_path: Path, archive: Path) -> str:
    """The absolute href of an asset given relative to ``item_path``; absolute hrefs stay."""
    if urlsplit(href).scheme:
        return href
    target = Path(os.path.normpath(item_path.parent / href))
    bucket, _, key = target.relative_to(archive).as_posix().partition("/")
    if bucket not in BUCKETS:
        raise ValueError(
            f"The item {item_path} has an asset {href} outside the published buckets "
            f"({', '.join(BUCKETS)}); regenerate the demo archive."
        )
    if bucket in HTTP_BUCKETS:
        return f"{HTTP_BUCKETS[bucket]}/{key}"
    return f"s3://{bucket}/{key}"


def served_item(record: dict, item_path: Path, archive: Path) -> dict:
    """The item ``record`` read from ``item_path``, as served: hrefs absolute, links to local
    files (relative or ``file:``) dropped."""
    assets = {
        name: asset | {"href": served_href(asset["href"], item_path, archive)}
        for name, asset in record.get("assets", {}).items()
    }
    links = [
        link
        for link in record.get("links", [])
        if urlsplit(link["href"]).scheme not in ("", "file")
    ]
    return record | {"assets": assets, "links": links}


def write_item_collections(archive: Path, folder: Path) -> list[Path]:
    """The served items written to ``folder`` as one newline-delimited JSON file per
    collection that has items; the files written."""
    archive = archive.resolve()
    written = []
    for collection in COLLECTIONS:
        paths = sorted((archive / STAC_FOLDER / collection).glob("*.json"))
        if not paths:
            continue
        lines = (
            json.dumps(served_item(json.loads(path.read_text()), path, archive)) for path in paths
        )
        target = folder / f"{collection}.ndjson"
        target.write_text("".join(f"{line}\n" for line in lines))
        written.append(target)
    return written
