"""Snakemake storage plugin for ARD destinations on S3: Snakemake's S3 plugin, made safe for
outputs that workers write themselves and cheap to check for thousands of tiles.

Used as ``storage dest: provider="ard-s3"`` (see ``workflow/rules/common.smk``). Settings,
credentials and reading are those of ``snakemake-storage-plugin-s3``; two behaviours differ:

- :meth:`StorageObject.remove` deletes the object only. The upstream plugin also deletes the
  bucket once it is empty, and Snakemake removes a failed job's outputs, so a failed job that
  had written a tile's only output left its user without a bucket.
- :meth:`StorageObject.inventory` lists the run's tile columns of a year folder at once (1,000
  keys per request) and answers every existence and modification-time question about the
  files below them, present or absent, from that listing: a request per 1,000 objects instead
  of one per file (the upstream plugin) or per tile folder. The workflow names the run's
  columns (``tile_columns``): a batch, a strip of the map, lists and keeps only its strip of a
  year folder that holds the whole request's tiles.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from snakemake_interface_storage_plugins.io import IOCacheStorageInterface, Mtime
from snakemake_storage_plugin_s3 import StorageObject as S3StorageObject
from snakemake_storage_plugin_s3 import StorageProvider as S3StorageProvider
from snakemake_storage_plugin_s3 import StorageProviderSettings as S3StorageProviderSettings

from ttc_ard.keys import TILE_BASE, YEAR_BASE

#: Folder levels between a file and its tile column's folder: an ARD key is
#: ``<year folder>/<x>/<y>/raw/<product folder>/<file>`` (``ttc_ard.keys``).
COLUMN_LEVELS = TILE_BASE.count("/") - YEAR_BASE.count("/") + 1


@dataclass
class StorageProviderSettings(S3StorageProviderSettings):
    """The S3 plugin's settings (``--storage-ard-s3-endpoint-url``, ``-region``, ...) and the
    run's tile columns."""

    tile_columns: str | None = field(
        default=None,
        metadata={
            "help": "The run's tile columns per year, 'YEAR:FIRST-LAST' separated by blanks "
            "(e.g. '2023:1600-1699'): the inventory lists their keys at once. The workflow "
            "sets it from its run's tiles; a column outside them is listed alone.",
            "env_var": False,
            "required": False,
        },
    )


def tile_columns(tiles: Iterable[tuple[int, int, int]]) -> str:
    """The ``tile_columns`` setting of a run of ``tiles`` (year, x_tile, y_tile): the first and
    last tile column of each year."""
    columns: dict[int, tuple[int, int]] = {}
    for year, x_tile, _ in tiles:
        first, last = columns.get(year, (x_tile, x_tile))
        columns[year] = (min(first, x_tile), max(last, x_tile))
    return " ".join(f"{year}:{first}-{last}" for year, (first, last) in sorted(columns.items()))


class StorageProvider(S3StorageProvider):
    """The S3 plugin's provider: one boto3 resource from the standard credential chain."""

    @functools.cached_property
    def column_ranges(self) -> dict[str, tuple[int, int]]:
        """Year -> (first, last) tile column of the run, from the ``tile_columns`` setting."""
        ranges = {}
        for item in (self.settings.tile_columns or "").split():
            year, columns = item.split(":")
            first, last = columns.split("-")
            ranges[year] = (int(first), int(last))
        return ranges


def listing_ranges(first: int, last: int) -> list[tuple[str, str]]:
    """The key ranges below a year folder that hold the columns ``first`` to ``last``, as
    (start after, stop at) suffixes: one per digit count, as keys sort as text (``"95/"`` after
    ``"1249/"``). A range also holds columns of other digit counts that sort inside it
    (``"100/"`` and ``"10000/"`` between ``"1000/"`` and ``"1099/"``), which the listing
    skips."""
    ranges = []
    for digits in range(len(str(first)), len(str(last)) + 1):
        low, high = max(first, 10 ** (digits - 1)), min(last, 10**digits - 1)
        # "/" sorts just before "0": every key of column `high` sorts before "<high>0".
        ranges.append((f"{low}/", f"{high}0"))
    return ranges


class StorageObject(S3StorageObject):
    def column_folder(self) -> str:
        """The key of this object's tile column folder, ``<year folder>/<x>``."""
        return self.key.rsplit("/", COLUMN_LEVELS)[0]

    def column_key(self, column_folder: str) -> str:
        """The cache's key of a tile column folder: :meth:`cache_key`'s, joined as text, as
        Snakemake asks for it at every existence check of every file (pathlib's join took a
        tenth of the planning time)."""
        return f"{self.provider.local_prefix}/{self._local_suffix_from_key(column_folder)}"

    def get_inventory_parent(self) -> str:
        return self.column_key(self.column_folder())

    async def inventory(self, cache: IOCacheStorageInterface):
        listed = cache.exists_in_storage.has_inventory
        column_folder = self.column_folder()
        if self.column_key(column_folder) in listed:
            return
        year_folder, column = posixpath.split(column_folder)
        year = posixpath.basename(posixpath.dirname(year_folder))
        first, last = self.provider.column_ranges.get(year, (None, None))
        if first is None or not first <= int(column) <= last:
            first = last = int(column)
        for start, stop in listing_ranges(first, last):
            # Marker: S3 lists the keys after it, page by page, until the loop stops.
            found = self.s3bucket().objects.filter(
                Prefix=f"{year_folder}/", Marker=f"{year_folder}/{start}"
            )
            stop_key = f"{year_folder}/{stop}"
            for obj in found:
                if obj.key >= stop_key:
                    break
                x_tile = obj.key[len(year_folder) + 1 :].split("/", 1)[0]
                if not (x_tile.isdigit() and first <= int(x_tile) <= last):
                    continue
                key = self.cache_key(self._local_suffix_from_key(obj.key))
                cache.mtime[key] = Mtime(storage=obj.last_modified.timestamp())
                cache.size[key] = obj.size
                cache.exists_in_storage[key] = True
        # Snakemake's cache takes a file of a listed column that the listing did not name as
        # absent, without asking S3 again.
        for x_tile in range(first, last + 1):
            listed.add(self.column_key(f"{year_folder}/{x_tile}"))

    def remove(self):
        self.s3obj().delete()
