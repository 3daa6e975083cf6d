"""GeoJSON of demo footprints, as Earth Search writes them across the antimeridian: longitudes
within [-180, 180], outlines split there. The generators work in longitudes that run on past
180 (continuous over a scene)."""

from __future__ import annotations

import shapely
from shapely.affinity import translate
from shapely.geometry import Polygon, box
from shapely.geometry.polygon import orient

from demo_archive.mgrs import unwrap_lon


def geojson_outline(area: Polygon) -> tuple[dict, list[float]]:
    """The GeoJSON geometry and bbox of a footprint whose longitudes may run past 180 or -180
    (:func:`demo_archive.mgrs.footprint`). Within [-180, 180] it is written as it is; across
    the antimeridian it is split there into a MultiPolygon of its parts brought back into
    range, as Earth Search writes such items, and its bbox's west is greater than its east
    (STAC's convention for a bbox across the antimeridian); wholly past it, it is moved back
    by a turn."""
    west, south, east, north = area.bounds
    if west >= -180 and east <= 180:
        ring = [list(point) for point in area.exterior.coords]
        return {"type": "Polygon", "coordinates": [ring]}, [west, south, east, north]
    parts = [
        orient(translate(part, xoff=turn))
        for turn in (-360.0, 0.0, 360.0)
        for part in shapely.get_parts(area.intersection(box(-180 - turn, -90, 180 - turn, 90)))
        if isinstance(part, Polygon) and part.area > 0
    ]
    polygons = [[[list(point) for point in part.exterior.coords]] for part in parts]
    geometry = (
        {"type": "Polygon", "coordinates": polygons[0]}
        if len(polygons) == 1
        else {"type": "MultiPolygon", "coordinates": polygons}
    )
    return geometry, [float(unwrap_lon(west, 0.0)), south, float(unwrap_lon(east, 0.0)), north]
