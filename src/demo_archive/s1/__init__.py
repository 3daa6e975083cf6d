"""Demo archive, Sentinel-1 part: Earth Search v1 ``sentinel-1-grd``-shaped IW GRDH scenes.

A demo scene is a small radar-geometry image over one cell of the 1/18 degree tile lattice
(plus a margin), one per acquisition, made from a known truth: the flat-terrain gamma0 of the
ground, times the terrain effect the loader's flattening undoes, a seasonal factor and
speckle; the DN are that gamma0 put through the generator's own calibration and noise LUTs,
which the annotations write in the real schema. The flat-terrain truth is kept outside
``stac/`` (see :func:`truth_path`) for loader tests to compare with.

The parts, in the order they build on each other:

- :mod:`.radar`: the cell lattice and each cell's radar image grid per pass;
- :mod:`.scenes`: which acquisitions see a cell in a year, their times and names;
- :mod:`.ground`: the truth on the ARD lattice and the terrain effect of each pass;
- :mod:`.calibration`: the calibration and noise LUTs, and their values on the image;
- :mod:`.annotation`: the annotation XML and ``manifest.safe``;
- :mod:`.render`: a scene's pixels and footprint;
- :mod:`.items`: its STAC item;
- :mod:`.archive`: the files, and the archive over a request's tiles.
"""

from demo_archive.s1.annotation import (
    calibration_xml,
    geolocation_points,
    manifest_safe,
    noise_xml,
    product_xml,
    rfi_xml,
)
from demo_archive.s1.archive import (
    gcps,
    item_path,
    product_folder,
    truth_path,
    truth_scenes_path,
    write_s1_archive,
    write_scene,
    write_truth,
)
from demo_archive.s1.calibration import BETA_NOUGHT, Calibration, Noise
from demo_archive.s1.ground import (
    COVER_GAMMA0_DB,
    LATTICE_DEG,
    CellFields,
    cell_fields,
    ellipsoid_gamma0,
    imaged_ground,
    imaged_position,
    sample_on_radar,
    seasonal_factor,
)
from demo_archive.s1.items import GENERATOR_VERSION, OMITTED_PROPERTIES, s1_item
from demo_archive.s1.radar import (
    HEADING_DEG,
    Cell,
    RadarGrid,
    cell_bounds,
    cell_name,
    cell_of,
    radar_grid,
)
from demo_archive.s1.render import POLARISATIONS, Simulation, footprint, simulate
from demo_archive.s1.scenes import (
    Scene,
    ipf_version,
    item_id,
    partial_quarter,
    product_id,
    s1_scenes,
    scenes_in_windows,
)

__all__ = [
    "BETA_NOUGHT",
    "COVER_GAMMA0_DB",
    "GENERATOR_VERSION",
    "HEADING_DEG",
    "LATTICE_DEG",
    "OMITTED_PROPERTIES",
    "POLARISATIONS",
    "Calibration",
    "Cell",
    "CellFields",
    "Noise",
    "RadarGrid",
    "Scene",
    "Simulation",
    "calibration_xml",
    "cell_bounds",
    "cell_fields",
    "cell_name",
    "cell_of",
    "ellipsoid_gamma0",
    "footprint",
    "gcps",
    "geolocation_points",
    "ipf_version",
    "item_id",
    "item_path",
    "manifest_safe",
    "noise_xml",
    "partial_quarter",
    "product_folder",
    "product_id",
    "product_xml",
    "radar_grid",
    "rfi_xml",
    "s1_item",
    "s1_scenes",
    "sample_on_radar",
    "imaged_ground",
    "imaged_position",
    "scenes_in_windows",
    "seasonal_factor",
    "simulate",
    "truth_path",
    "truth_scenes_path",
    "write_s1_archive",
    "write_scene",
    "write_truth",
]
