"""The tile's grid: the 10 m UTM grid of its Sentinel-2 bands, on which every product of the
tile is written (the contract's "one grid per tile"), so that the model stacks them pixel by
pixel without resampling any.

The grid is a function of the tile alone, whether or not any scene covers it: the UTM zone of
the tile's centre (a tile astride a zone line takes its centre's zone), the tile's lon/lat box
projected into it, edges on multiples of 20 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import Proj, Transformer
from pyproj.proj import Factors
from rasterio.warp import transform_bounds

from loaders.tiles import BBox, Tile

#: The tile's grid: 10 m pixels (the S2 10 m bands), edges on 20 m multiples (below).
TILE_RESOLUTION_M, TILE_SNAP_M = 10, 20


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: CRS, upper-left corner, pixel size and shape."""

    crs: str
    west: float
    north: float
    resolution: float
    height: int
    width: int

    @property
    def transform(self) -> Affine:
        return Affine(self.resolution, 0.0, self.west, 0.0, -self.resolution, self.north)

    def coarsened(self, resolution: float) -> Grid:
        """The grid with the same upper-left corner at a coarser ``resolution``, covering at
        least the same area."""
        scale = resolution / self.resolution
        return Grid(
            self.crs,
            self.west,
            self.north,
            resolution,
            math.ceil(self.height / scale),
            math.ceil(self.width / scale),
        )

    def pixel_lonlat(self, border: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) in degrees of every pixel centre, two (H + 2 border, W + 2 border) arrays:
        the grid grown by ``border`` pixels on every side. The longitudes of a grid astride
        180° run on past it (180.01, not -179.99), so that they stay one interval."""
        return self._lonlat(*np.meshgrid(*self._centres(border)))

    def lonlat_extent(self, border: int = 0) -> BBox:
        """The lon/lat box of :meth:`pixel_lonlat`'s points, from the outermost ring of them
        alone: over a tile the projection is so nearly affine that no inner point is
        further out."""
        x, y = self._centres(border)
        ring_x = np.concatenate([x, x, np.full(y.size, x[0]), np.full(y.size, x[-1])])
        ring_y = np.concatenate([np.full(x.size, y[0]), np.full(x.size, y[-1]), y, y])
        lon, lat = self._lonlat(ring_x, ring_y)
        return BBox(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))

    def _centres(self, border: int) -> tuple[np.ndarray, np.ndarray]:
        """Eastings of the pixel centres' columns and northings of their rows, the grid grown
        by ``border`` pixels on every side."""
        x = self.west + (np.arange(-border, self.width + border) + 0.5) * self.resolution
        y = self.north - (np.arange(-border, self.height + border) + 0.5) * self.resolution
        return x, y

    def _lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        to_lonlat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lon, lat = to_lonlat.transform(x, y)
        if lon.max() - lon.min() > 180:
            lon = np.where(lon < 0, lon + 360, lon)
        return lon, lat

    def ground_pixel_size(self) -> float:
        """Metres on the ground of one pixel at the grid's centre: the pixel size divided by the
        projection's scale there (UTM's scale is 0.9996 on its central meridian and grows to
        about 1.001 at 3.5 degrees from it at the equator)."""
        return self.resolution / self._centre_factors().meridional_scale

    def grid_north_azimuth(self) -> float:
        """Degrees clockwise from true north of the grid's north (its columns, upward) at its
        centre: the meridian convergence, up to about 1 degree in the tropics. An azimuth
        measured on the grid plus this is one measured from true north."""
        return self._centre_factors().meridian_convergence

    def _centre_factors(self) -> Factors:
        lon, lat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(
            self.west + self.width * self.resolution / 2,
            self.north - self.height * self.resolution / 2,
        )
        return Proj(self.crs).get_factors(lon, lat)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the standard UTM zone (WGS84) containing a point: the output CRS of a tile
    is its centre's zone, whichever granules it is read from (the Norway and Svalbard
    exceptions of MGRS are not applied: no tropical tile is affected)."""
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def utm_grid(bbox: BBox, epsg: int, resolution: float, snap: float) -> Grid:
    """The grid of ``resolution`` metres covering ``bbox`` in ``epsg``, its edges on multiples of
    ``snap`` metres. Sentinel-2 granule origins lie on multiples of 20 m, so with ``snap=20``
    the 10 m and 20 m grids of a tile coincide with every same-zone granule's pixels."""
    crs = f"EPSG:{epsg}"
    west, south, east, north = transform_bounds(
        "EPSG:4326", crs, bbox.west, bbox.south, bbox.east, bbox.north, densify_pts=21
    )
    west, south = math.floor(west / snap) * snap, math.floor(south / snap) * snap
    east, north = math.ceil(east / snap) * snap, math.ceil(north / snap) * snap
    return Grid(
        crs,
        west,
        north,
        resolution,
        round((north - south) / resolution),
        round((east - west) / resolution),
    )


def tile_grid(tile: Tile) -> Grid:
    """The grid every product of ``tile`` is written on: ``s2_10``'s (``s2_20`` is its
    :meth:`~Grid.coarsened` 20 m grid)."""
    return utm_grid(tile.bbox, utm_epsg(tile.lon, tile.lat), TILE_RESOLUTION_M, TILE_SNAP_M)
