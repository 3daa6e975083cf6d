"""Tiles of the Tropical Tree Cover grid and their bounding boxes."""

from __future__ import annotations

from dataclasses import dataclass

#: Half the side of a tile: the grid is 1/18 degree, so a tile is its centre +- 1/36 degree.
TILE_HALF_WIDTH_DEG = 1 / 36


@dataclass(frozen=True)
class BBox:
    """A lon/lat box in degrees (EPSG:4326)."""

    west: float
    south: float
    east: float
    north: float

    def buffered(self, margin_deg: float) -> BBox:
        """The box grown by ``margin_deg`` on every side."""
        return BBox(
            self.west - margin_deg,
            self.south - margin_deg,
            self.east + margin_deg,
            self.north + margin_deg,
        )


@dataclass(frozen=True)
class Tile:
    """One tile of one year, as the tile DB describes it."""

    year: int
    x_tile: int
    y_tile: int
    #: Centre longitude, degrees, as stored in the tile DB (rounded to 4 decimals there).
    lon: float
    #: Centre latitude, degrees.
    lat: float

    @property
    def tag(self) -> str:
        """The id used in requests and file names, e.g. ``1655X1083Y``."""
        return f"{self.x_tile}X{self.y_tile}Y"

    @property
    def bbox(self) -> BBox:
        return tile_bbox(self.lon, self.lat)


def tile_bbox(lon: float, lat: float) -> BBox:
    """The tile's box: its centre +- 1/36 degree (the old pipeline's ``expansion=300``)."""
    h = TILE_HALF_WIDTH_DEG
    return BBox(lon - h, lat - h, lon + h, lat + h)
