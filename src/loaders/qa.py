"""A tile's data-quality record: the names of its fields, and the statistics it holds.

Every loader writes one record per tile and product (beside the outputs, see
:func:`loaders.ard_io.write_tile`); the run log keeps its :func:`summary`, from which the
reports (:mod:`ttc_ard.reports`) flag odd tiles. Both sides name the fields through the
constants below. Only the standard library and numpy here: the workflow side imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# Fields of every product's record.
PRODUCT = "product"
TILE = "tile"
#: The output grid: ``crs``, ``transform`` (six affine coefficients) and ``shape``.
GRID = "grid"
#: The tile's typical value (DEM: median slope; S1: median VV gamma0 in dB; S2: median NIR
#: reflectance), which the reports compare across the run's tiles.
TYPICAL = "typical"
#: Whether the tile's main output holds one value everywhere.
CONSTANT = "constant"
#: Each output file's size and SHA-256, added by the writer.
FILES = "files"

# Fields of the Sentinel products' records.
#: Share of output pixels that no scene covered.
NODATA_FRACTION = "nodata_fraction"
SCENES_FOUND = "scenes_found"
#: S1: scenes whose pixels went into the composites.
SCENES_USED = "scenes_used"
#: S1: quarters (1-4) without any scene, filled from the nearest quarter.
FILLED_QUARTERS = "filled_quarters"
#: S2: solar days with candidate scenes, clean days among them, and scenes kept over the tile.
DAYS_FOUND = "days_found"
CLEAN_DAYS = "clean_days"
KEPT = "kept"
#: S2: scenes whose metadata and pixels disagreed about the +1000 DN offset.
OFFSET_DISAGREEMENTS = "offset_disagreements"

#: The fields the run log keeps of each record (the full record stays in its file).
SUMMARY_FIELDS = (
    PRODUCT,
    TILE,
    TYPICAL,
    CONSTANT,
    NODATA_FRACTION,
    SCENES_FOUND,
    SCENES_USED,
    FILLED_QUARTERS,
    DAYS_FOUND,
    CLEAN_DAYS,
    KEPT,
    OFFSET_DISAGREEMENTS,
)


def tile_record(
    product: str,
    tile: str,
    grid: dict,
    details: Mapping[str, object],
    *,
    typical: float,
    constant: bool,
) -> dict:
    """A tile's record: the fields every product has around the product's own ``details``."""
    return {
        PRODUCT: product,
        TILE: tile,
        GRID: grid,
        **details,
        TYPICAL: typical,
        CONSTANT: constant,
    }


def grid_record(transform: Sequence[float], shape: Sequence[int], crs: str | None = None) -> dict:
    """A pixel grid as records describe it: the affine ``transform``'s first six coefficients,
    the ``shape`` (rows, columns) and, if given, the ``crs``."""
    grid = {"transform": list(transform)[:6], "shape": list(shape)}
    return grid if crs is None else {"crs": crs, **grid}


def summary(record: Mapping[str, object]) -> dict:
    """The fields of ``record`` that the run log keeps (those of :data:`SUMMARY_FIELDS` it has)."""
    return {name: record[name] for name in SUMMARY_FIELDS if name in record}


def percentiles(
    values: np.ndarray,
    named: Mapping[str, float],
    *,
    method: str = "linear",
    divide_by: float = 1,
    digits: int | None = None,
) -> dict[str, float]:
    """The percentiles of ``values``, by name: ``named`` maps each name to a percent (0 is the
    minimum, 100 the maximum), ``method`` is numpy's, and each value is divided by
    ``divide_by`` (a scale) then rounded to ``digits`` if given. No values give ``{}``.

    >>> percentiles(np.arange(101), {"p05": 5, "max": 100})
    {'p05': 5.0, 'max': 100.0}
    """
    if values.size == 0:
        return {}
    found = np.percentile(values, list(named.values()), method=method)
    scaled = (float(value) / divide_by for value in found)
    return {
        name: value if digits is None else round(value, digits)
        for name, value in zip(named, scaled, strict=True)
    }
