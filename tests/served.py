"""A small demo archive for the tests of the served archive (``demo_archive.served``): a few
files of each bucket in the demo layout, with items that point at them as the generator's do
(hrefs relative to the item file).

Files are tiny COGs and XML documents; the S2 items are many, over a year with varied cloud
cover, so that searches have pages to turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from loaders.tiles import BBox

#: The area every item covers (a one-degree cell in Ghana, as the demo's default tiles):
#: west, south, east, north.
FOOTPRINT_BOUNDS = (-2.0, 6.0, -1.0, 7.0)
FOOTPRINT = BBox(*FOOTPRINT_BOUNDS)
S2_ITEM_COUNT = 23
S2_FOLDER = "sentinel-cogs/sentinel-s2-l2a-cogs/30/N/WM/2023/{month}/{item_id}"
S1_ITEM_ID = "S1A_IW_GRDH_1SDV_20230211T182701_20230211T182839_047192_05AC59"
S1_FOLDER = f"sentinel-s1-l1c/GRD/2023/2/11/IW/DV/{S1_ITEM_ID}_A1B2"
DEM_ITEM_ID = "Copernicus_DSM_COG_10_N06_00_W002_00_DEM"
DEM_FOLDER = f"copernicus-dem-30m/{DEM_ITEM_ID}"
#: Files the server must not publish: they are the demo's answers, not the archive's.
UNPUBLISHED = ("demo-truth/sentinel-2-l2a/x.json", "demo-coverage/sentinel-2-l2a/2023/x.json")


@dataclass(frozen=True)
class SmallArchive:
    """What :func:`write_small_archive` wrote."""

    root: Path
    objects: dict[str, set[str]]
    """Keys expected in each bucket."""
    s2_item_ids: list[str]
    s2_scl_key: str
    """The key of one S2 file (the first item's SCL)."""
    s1_vv_key: str
    s1_vh_key: str
    dem_key: str


def write_cog(path: Path, data: np.ndarray) -> None:
    """``data`` (bands, rows, columns) as a small DEFLATE COG in EPSG:4326 over
    :data:`FOOTPRINT`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    west, south, east, north = FOOTPRINT_BOUNDS
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype,
        "crs": CRS.from_epsg(4326),
        "transform": Affine(
            (east - west) / data.shape[2], 0, west, 0, -(north - south) / data.shape[1], north
        ),
    }
    with MemoryFile() as memory, memory.open(**profile) as dataset:
        dataset.write(data)
        rasterio.shutil.copy(dataset, path, driver="COG", compress="DEFLATE", blocksize=256)


def item(
    item_id: str,
    collection: str,
    moment: datetime,
    assets: dict[str, str],
    properties: dict | None = None,
) -> dict:
    """A STAC item over :data:`FOOTPRINT` with ``assets`` (name: relative href), shaped as the
    demo generator's (its only link is the collection, relative)."""
    west, south, east, north = FOOTPRINT_BOUNDS
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "properties": {"datetime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")} | (properties or {}),
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "links": [{"rel": "collection", "type": "application/json", "href": "./collection.json"}],
        "assets": {name: {"href": href, "roles": ["data"]} for name, href in assets.items()},
        "bbox": list(FOOTPRINT_BOUNDS),
        "collection": collection,
    }


def write_item(root: Path, record: dict) -> None:
    path = root / "stac" / record["collection"] / f"{record['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def write_small_archive(root: Path) -> SmallArchive:
    """Write the small archive under ``root``: :data:`S2_ITEM_COUNT` S2 items (each with an
    SCL COG, the first with a B04 too), one S1 product (VV and VH COGs, annotation,
    manifest) and one DEM cell, plus files that must stay unpublished."""
    rng = np.random.default_rng(3)
    objects: dict[str, set[str]] = {
        "sentinel-cogs": set(),
        "sentinel-s1-l1c": set(),
        "copernicus-dem-30m": set(),
    }

    def written(relative: str) -> Path:
        bucket, _, key = relative.partition("/")
        objects[bucket].add(key)
        return root / relative

    s2_ids = []
    for index in range(S2_ITEM_COUNT):
        moment = datetime(2023, 1, 4, 10, 45, tzinfo=UTC) + timedelta(days=15 * index)
        item_id = f"S2A_30NWM_{moment:%Y%m%d}_0_L2A"
        folder = S2_FOLDER.format(month=moment.month, item_id=item_id)
        bands = ["SCL", "B04"] if index == 0 else ["SCL"]
        for band in bands:
            write_cog(written(f"{folder}/{band}.tif"), rng.integers(0, 12, (1, 64, 64), "uint8"))
        hrefs = {band.lower(): f"../../{folder}/{band}.tif" for band in bands}
        cloud_cover = float(index * 97 % 101)
        write_item(
            root,
            item(item_id, "sentinel-2-l2a", moment, hrefs, {"eo:cloud_cover": cloud_cover}),
        )
        s2_ids.append(item_id)

    for polarisation in ("vv", "vh"):
        data = rng.integers(1, 500, (1, 128, 128), "uint16")
        write_cog(written(f"{S1_FOLDER}/measurement/iw-{polarisation}.tiff"), data)
        annotation = written(f"{S1_FOLDER}/annotation/iw-{polarisation}.xml")
        annotation.parent.mkdir(parents=True, exist_ok=True)
        annotation.write_text(
            f"<product><polarisation>{polarisation.upper()}</polarisation></product>"
        )
    written(f"{S1_FOLDER}/manifest.safe").write_text("<xfdu:XFDU/>")
    s1_assets = {
        "vv": f"../../{S1_FOLDER}/measurement/iw-vv.tiff",
        "vh": f"../../{S1_FOLDER}/measurement/iw-vh.tiff",
        "schema-product-vv": f"../../{S1_FOLDER}/annotation/iw-vv.xml",
        "safe-manifest": f"../../{S1_FOLDER}/manifest.safe",
    }
    moment = datetime(2023, 2, 11, 18, 27, 50, tzinfo=UTC)
    write_item(root, item(S1_ITEM_ID, "sentinel-1-grd", moment, s1_assets))

    elevation = rng.normal(200, 20, (1, 90, 90)).astype("float32")
    write_cog(written(f"{DEM_FOLDER}/{DEM_ITEM_ID}.tif"), elevation)
    dem_assets = {"data": f"../../{DEM_FOLDER}/{DEM_ITEM_ID}.tif"}
    moment = datetime(2021, 4, 22, tzinfo=UTC)
    write_item(root, item(DEM_ITEM_ID, "cop-dem-glo-30", moment, dem_assets))

    for relative in UNPUBLISHED:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("{}")

    first_folder = S2_FOLDER.format(month=1, item_id=s2_ids[0])
    return SmallArchive(
        root=root,
        objects=objects,
        s2_item_ids=s2_ids,
        s2_scl_key=f"{first_folder.partition('/')[2]}/SCL.tif",
        s1_vv_key=f"{S1_FOLDER.partition('/')[2]}/measurement/iw-vv.tiff",
        s1_vh_key=f"{S1_FOLDER.partition('/')[2]}/measurement/iw-vh.tiff",
        dem_key=f"{DEM_ITEM_ID}/{DEM_ITEM_ID}.tif",
    )
