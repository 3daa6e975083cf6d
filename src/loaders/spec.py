"""What a tile job is given and what it gives back, as typed values.

The workflow describes each job as plain JSON-able data (``loader_spec`` in
``workflow/rules/common.smk``), so that it travels unchanged to a Lambda worker; the worker
turns it into a :class:`TileJob` once, with :meth:`TileJob.from_spec`, and a malformed spec
fails there, before anything is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from loaders import qa
from loaders.tiles import Tile

#: The spec keys each product's job reads its sources from, besides the common ones.
SOURCE_KEYS = {"dem": ("dem_root",), "s1": ("stac", "dem_root", "geoid"), "s2": ("stac",)}
#: Spec keys every job needs.
REQUIRED_KEYS = ("product", "tile", "outputs", "qa")


class SpecError(ValueError):
    """A tile job's spec is malformed: the workflow and the loaders disagree about its format."""


@dataclass(frozen=True)
class Catalog:
    """Where items are searched: ``url`` of a STAC API, or ``path`` of a local catalogue."""

    url: str | None = None
    path: str | None = None
    retries: int = 5
    backoff_seconds: float = 0.5
    timeout_seconds: float = 30
    page_size: int = 100
    """Items per page of an API's search results (its ``limit``): Earth Search answers 10 per
    page without one, and Element 84's stac-server recommends 100 as the most to ask for."""


@dataclass(frozen=True)
class TileJob:
    """One product of one tile: what to compute, where its sources are and where it goes."""

    product: str
    """``dem``, ``s1`` or ``s2``: the loader that runs (and the Snakemake rule)."""
    tile: Tile
    outputs: Mapping[str, str]
    """Where each output array goes, by name: a local path or an ``s3://`` URL."""
    qa: str
    """Where the tile's QA record goes; written last, it marks the product complete."""
    s3_endpoint_url: str | None = None
    """The S3 endpoint of ``s3://`` outputs; None for AWS's."""
    gdal_env: Mapping[str, str] = field(default_factory=dict)
    """GDAL settings of the source reads (credentials, requester pays...)."""
    source_s3_endpoint_url: str | None = None
    """The S3 endpoint of ``s3://`` sources (``http://host:port``); None for AWS's."""
    stac: Catalog | None = None
    """Where the Sentinel scenes are searched (S1, S2)."""
    dem_root: str | None = None
    """Folder or ``s3://`` prefix of the Copernicus DEM cells, ``<cell>/<cell>.tif`` (DEM, and
    S1 for terrain flattening)."""
    geoid: str | None = None
    """Path or URL of the geoid grid (S1: a GeoTIFF of the geoid's height above the WGS84
    ellipsoid, e.g. PROJ's EGM2008 grid, the Copernicus DEM's vertical datum)."""
    requester_pays: bool = False
    """Whether reads of the S1 annotations are billed to the reader (the GRD bucket's rule)."""

    @property
    def source_gdal_env(self) -> dict[str, str]:
        """GDAL settings of the source reads: those reaching the sources' S3 endpoint, then the
        spec's own, which win."""
        return s3_endpoint_settings(self.source_s3_endpoint_url) | dict(self.gdal_env)

    @classmethod
    def from_spec(cls, spec: Mapping) -> TileJob:
        """The job a workflow spec describes; :class:`SpecError` naming the problem if the spec
        lacks a key, has one no job knows, or holds a malformed tile or catalogue."""
        if not isinstance(spec, Mapping):
            raise SpecError(f"a tile job spec is a mapping, not {type(spec).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(spec) - known):
            raise SpecError(f"tile job spec: unknown key(s) {unknown}; known: {sorted(known)}")
        product = spec.get("product")
        if product not in SOURCE_KEYS:
            raise SpecError(f"tile job spec: product {product!r} is none of {sorted(SOURCE_KEYS)}")
        if missing := [key for key in (*REQUIRED_KEYS, *SOURCE_KEYS[product]) if key not in spec]:
            raise SpecError(f"tile job spec of {product}: missing key(s) {missing}")
        if not isinstance(spec["outputs"], Mapping):
            raise SpecError(f"tile job spec of {product}: outputs map names to destinations")
        # A malformed endpoint is refused here, before anything is read.
        s3_endpoint_settings(spec.get("source_s3_endpoint_url"))
        return cls(
            product=product,
            tile=built(Tile, spec["tile"], "tile"),
            outputs=dict(spec["outputs"]),
            qa=spec["qa"],
            s3_endpoint_url=spec.get("s3_endpoint_url"),
            gdal_env=dict(spec.get("gdal_env", {})),
            source_s3_endpoint_url=spec.get("source_s3_endpoint_url"),
            stac=catalog(spec["stac"]) if "stac" in spec else None,
            dem_root=spec.get("dem_root"),
            geoid=spec.get("geoid"),
            requester_pays=bool(spec.get("requester_pays", False)),
        )


def s3_endpoint_settings(endpoint_url: str | None) -> dict[str, str]:
    """GDAL settings that make ``/vsis3/`` reach the S3 endpoint ``endpoint_url``
    (``http://host:port``): its host and port, its scheme, and paths rather than bucket host
    names (a local or third-party endpoint has no per-bucket names). None: AWS, no settings."""
    if endpoint_url is None:
        return {}
    scheme, _, rest = endpoint_url.partition("://")
    if scheme not in ("http", "https") or not rest:
        raise SpecError(
            f"tile job spec: source_s3_endpoint_url {endpoint_url!r} is not an http(s) URL"
        )
    return {
        "AWS_S3_ENDPOINT": rest.rstrip("/"),
        "AWS_HTTPS": "YES" if scheme == "https" else "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


def catalog(fields: Mapping) -> Catalog:
    """The catalogue the spec's ``stac`` names; a :class:`SpecError` unless it names one."""
    found = built(Catalog, fields, "stac")
    if found.url is None and found.path is None:
        raise SpecError("tile job spec: stac names no catalogue: give its url or its path")
    # pystac-client refuses other limits, which would read as a failed search, not a bad spec.
    if not 1 <= found.page_size <= 10000:
        raise SpecError(f"tile job spec: stac page_size {found.page_size} is not in 1..10000")
    return found


def built(kind: type, fields: Mapping, key: str):
    """``kind(**fields)``, or a :class:`SpecError` saying which fields the spec's ``key`` lacks
    or has too many."""
    expected = {f.name for f in dataclasses.fields(kind)}
    required = {
        f.name
        for f in dataclasses.fields(kind)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    if not isinstance(fields, Mapping) or not required <= set(fields) <= expected:
        raise SpecError(
            f"tile job spec: {key} must hold the fields {sorted(expected)} "
            f"(required: {sorted(required)}), got {fields!r}"
        )
    return kind(**fields)


@dataclass(frozen=True)
class TileResult:
    """What a product's job computed for a tile, not yet written."""

    arrays: dict[str, np.ndarray]
    """Each output array by name, the names of :attr:`TileJob.outputs`."""
    record: dict
    """The tile's QA record (see :mod:`loaders.qa`)."""

    def summary(self) -> dict:
        """What the run log keeps of the result: each array's shape and the record's summary."""
        return {
            "shapes": {name: list(array.shape) for name, array in self.arrays.items()},
            "qa": qa.summary(self.record),
        }
