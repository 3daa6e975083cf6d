"""Snakemake storage plugin for ARD destinations on S3: Snakemake's S3 plugin, made safe for
outputs that workers write themselves and cheap to check for thousands of tiles.

Used as ``storage dest: provider="ard-s3"`` (see ``workflow/rules/common.smk``). Settings,
credentials and reading are those of ``snakemake-storage-plugin-s3``; two behaviours differ:

- :meth:`StorageObject.remove` deletes the object only. The upstream plugin also deletes the
  bucket once it is empty, and Snakemake removes a failed job's outputs, so a failed job that
  had written a tile's only output left its user without a bucket.
- :meth:`StorageObject.inventory` lists the year's folder once (1,000 keys per request) and
  answers every existence and modification-time question about the files below it, present
  or absent, from that listing: a request per 1,000 objects instead of one per file (the
  upstream plugin) or per tile folder. A request for a few tiles of a year folder holding
  many more lists them all; with 12 objects a tile that costs more requests than one per
  tile only when the folder holds over 80 times the requested tiles.
"""

from __future__ import annotations

import posixpath

from snakemake_interface_storage_plugins.io import IOCacheStorageInterface, Mtime
from snakemake_storage_plugin_s3 import StorageObject as S3StorageObject
from snakemake_storage_plugin_s3 import StorageProvider as S3StorageProvider
from snakemake_storage_plugin_s3 import StorageProviderSettings as S3StorageProviderSettings

from ttc_ard.keys import TILE_BASE, YEAR_BASE

#: Folder levels between a file and the folder its inventory lists, the year's: an ARD key is
#: ``<year folder>/<x>/<y>/raw/<product folder>/<file>`` (``ttc_ard.keys``).
INVENTORY_LEVELS = TILE_BASE.count("/") - YEAR_BASE.count("/") + 2


class StorageProviderSettings(S3StorageProviderSettings):
    """The S3 plugin's settings (``--storage-ard-s3-endpoint-url``, ``-region``, ...)."""


class StorageProvider(S3StorageProvider):
    """The S3 plugin's provider: one boto3 resource from the standard credential chain."""


class StorageObject(S3StorageObject):
    def inventory_prefix(self) -> str:
        """The key prefix listed for this object: its year folder, with a trailing slash."""
        folder = self.key
        for _ in range(INVENTORY_LEVELS):
            folder = posixpath.dirname(folder)
        return f"{folder}/" if folder else ""

    def get_inventory_parent(self) -> str:
        return self.cache_key(self._local_suffix_from_key(self.inventory_prefix().rstrip("/")))

    async def inventory(self, cache: IOCacheStorageInterface):
        parent = self.get_inventory_parent()
        listed = cache.exists_in_storage.has_inventory
        if parent in listed:
            return
        for obj in self.s3bucket().objects.filter(Prefix=self.inventory_prefix()):
            key = self.cache_key(self._local_suffix_from_key(obj.key))
            cache.mtime[key] = Mtime(storage=obj.last_modified.timestamp())
            cache.size[key] = obj.size
            cache.exists_in_storage[key] = True
        # Snakemake's cache takes a file under an inventoried parent that the listing did not
        # name as absent, without asking S3 again.
        listed.add(parent)

    def remove(self):
        self.s3obj().delete()
