"""A scene's pixels: the truth with the season and speckle, put through the generator's own
calibration and noise LUTs to DN, next to the annotations that describe them.

Real GRD slices are 250 x 170 km; a demo scene is a small radar-geometry image over one cell
of the 1/18 degree tile lattice plus a margin. The DN are gamma0 times the squared gamma LUT
plus thermal noise, so that calibrating them with the annotations gives the gamma0 back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo_archive.s1 import calibration
from demo_archive.s1.annotation import calibration_xml, noise_xml, product_xml, rfi_xml
from demo_archive.s1.ground import ellipsoid_gamma0, seasonal_factor
from demo_archive.s1.radar import RadarGrid, radar_grid
from demo_archive.s1.scenes import (
    AZIMUTH_NOISE_IPF,
    RFI_IPF,
    Scene,
    ipf_version,
    product_id,
    seed,
    uniform,
)

#: Equivalent number of looks of IW GRDH (the items' ``sar:looks_equivalent_number``).
LOOKS = 4.4
POLARISATIONS = ("vv", "vh")


@dataclass(frozen=True)
class Simulation:
    """Everything one scene is made of, per polarisation."""

    scene: Scene
    grid: RadarGrid
    documents: dict[str, bytes]
    """File name under ``annotation/`` -> content."""
    dn: dict[str, np.ndarray]
    """(lines, samples) uint16 image, 0 where no data."""
    gamma0: dict[str, np.ndarray]
    """(lines, samples) float32 speckled gamma0 the DN encode (NaN where no data)."""


def simulate(scene: Scene) -> Simulation:
    """The scene's annotations and pixels (pure: the same scene gives the same bits)."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    day = scene.centre_time.date()
    season = seasonal_factor(day, grid.centre_lat)
    truth = ellipsoid_gamma0(scene.cell, scene.pass_direction)
    valid = valid_lines(scene)
    cal = calibration.calibration(grid)
    gamma_lut = calibration.gamma_on_image(cal, grid)
    documents, dn, gamma0 = {}, {}, {}
    for band, pol in enumerate(POLARISATIONS):
        noise = calibration.noise(grid, pol, azimuth_vectors=ipf_version(day) >= AZIMUTH_NOISE_IPF)
        documents |= {
            f"calibration/calibration-iw-{pol}.xml": calibration_xml(scene, pol, cal),
            f"calibration/noise-iw-{pol}.xml": noise_xml(scene, pol, noise),
            f"iw-{pol}.xml": product_xml(scene, pol),
        }
        if ipf_version(day) >= RFI_IPF:
            documents[f"rfi/rfi-iw-{pol}.xml"] = rfi_xml(scene, pol)
        rng = np.random.default_rng(seed(product_id(scene), pol))
        speckle = rng.standard_gamma(LOOKS, truth[band].shape, dtype=np.float32)
        speckled = truth[band] * np.float32(season / LOOKS) * speckle
        power = speckled * gamma_lut**2 + calibration.noise_on_image(noise, grid)
        pol_dn = np.clip(np.rint(np.sqrt(power)), 1, 65535).astype(np.uint16)
        pol_dn[valid:] = 0
        speckled[valid:] = np.nan
        dn[pol], gamma0[pol] = pol_dn, speckled
    return Simulation(scene, grid, documents, dn, gamma0)


def valid_lines(scene: Scene) -> int:
    """Lines of the image holding data: all, but on a partial scene, where the datatake ends
    over the cell, between 35 and 65 % of them."""
    lines = radar_grid(scene.cell, scene.pass_direction).lines
    return round(lines * (0.35 + 0.3 * uniform("cut", *scene.cell))) if scene.partial else lines


def footprint(scene: Scene) -> list[list[float]]:
    """The outline of the scene's data (pixel edges), counter-clockwise, closed."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    last = valid_lines(scene) - 0.5
    line = np.array([-0.5, -0.5, last, last])
    pixel = np.array([-0.5, grid.samples - 0.5, grid.samples - 0.5, -0.5])
    lon, lat = grid.lonlat(line, pixel)
    ring = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat, strict=True)]
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    if area < 0:
        ring.reverse()
    return [*ring, ring[0]]
