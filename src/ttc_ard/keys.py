"""Where each ARD file of a tile lives under the destination root (the output contract)."""

from __future__ import annotations

#: Folder of a year's tiles under the destination root, and of a tile's files.
YEAR_BASE = "{year}/raw"
TILE_BASE = YEAR_BASE + "/{x_tile}/{y_tile}/raw"

#: Per product, each output's name and its key under :data:`TILE_BASE`. The placeholders double
#: as Snakemake wildcards in the rules' output patterns.
ARD_FILES: dict[str, dict[str, str]] = {
    "dem": {"dem": "misc/dem_{x_tile}X{y_tile}Y.hkl"},
    "s1": {
        "s1": "s1/{x_tile}X{y_tile}Y.hkl",
        "s1_dates": "misc/s1_dates_{x_tile}X{y_tile}Y.hkl",
    },
    "s2": {
        "s2_10": "s2_10/{x_tile}X{y_tile}Y.hkl",
        "s2_20": "s2_20/{x_tile}X{y_tile}Y.hkl",
        "s2_dates": "misc/s2_dates_{x_tile}X{y_tile}Y.hkl",
        "clouds": "clouds/clouds_{x_tile}X{y_tile}Y.hkl",
        "cloudmask": "clouds/cloudmask_{x_tile}X{y_tile}Y.hkl",
        "clean_steps": "clouds/clean_steps_{x_tile}X{y_tile}Y.hkl",
    },
}


def key_patterns(product: str) -> dict[str, str]:
    """Output name -> key pattern with ``{year}``, ``{x_tile}``, ``{y_tile}`` placeholders."""
    return {name: f"{TILE_BASE}/{key}" for name, key in ARD_FILES[product].items()}


#: The record a loader writes beside a tile's outputs of one product (not a contract file): its
#: data-quality figures and each output's SHA-256. It is written after the outputs and removed
#: before they are replaced, so a product whose record exists is complete and of one computation.
QA_KEY = TILE_BASE + "/qa/{product}_{x_tile}X{y_tile}Y.json"


def record_pattern(product: str) -> str:
    """The key pattern of ``product``'s record, with the tile placeholders of :data:`QA_KEY`."""
    return QA_KEY.replace("{product}", product)


def ard_keys(year: int, x_tile: int, y_tile: int, products: list[str]) -> list[str]:
    """Every contract key of one tile for the given products, e.g.
    ``2023/raw/1655/1083/raw/misc/dem_1655X1083Y.hkl``."""
    return [
        pattern.format(year=year, x_tile=x_tile, y_tile=y_tile)
        for product in products
        for pattern in key_patterns(product).values()
    ]


def record_keys(year: int, x_tile: int, y_tile: int, products: list[str]) -> list[str]:
    """The record key of each product of one tile (see :data:`QA_KEY`)."""
    return [
        record_pattern(product).format(year=year, x_tile=x_tile, y_tile=y_tile)
        for product in products
    ]
