"""The scene plan: which acquisitions see a cell in a year, when, and their names.

Which scenes exist depends only on the cell and the year, never on the request, so archives
grown by later requests keep their files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from demo_archive.s1.radar import (
    ANCHORS,
    CELL_DEG,
    HEADING_DEG,
    ORBIT_PERIOD_S,
    ORBITS_PER_CYCLE,
    REPEAT_DAYS,
    Cell,
    RadarGrid,
    cell_of,
    radar_grid,
)

#: Azimuth time between lines (the real annotation's).
LINE_TIME_S = 1.499191837510891e-03

#: Absolute orbit numbers of each platform: relative orbit = (absolute - offset) % 175 + 1;
#: an S1B anchor (a real product), and each platform's years of operation.
_ORBIT_OFFSET = {"S1A": 73, "S1B": 27}
_S1B_ANCHOR = (26269, dt.datetime(2021, 4, 1, 5, 26, 35))
_OPERATION = {
    "S1A": (dt.datetime(2014, 10, 3), dt.datetime(9999, 1, 1)),
    "S1B": (dt.datetime(2016, 9, 26), dt.datetime(2021, 12, 23)),
}
#: Datatake ids grow by about 8.58 per orbit (two real products' ids); S1B's its own count.
_DATATAKE = {"S1A": (39156, 302867), "S1B": (26269, 205463)}
_DATATAKES_PER_ORBIT = 8.578

#: IPF versions by date (approximate): 2.90 added the azimuth noise vectors (before it the
#: noise annotation is the older ``noiseVectorList``), 3.40 the ``annotation/rfi`` folder.
IPF_VERSIONS = (
    (dt.date(2014, 10, 1), "002.36"),
    (dt.date(2018, 3, 13), "002.90"),
    (dt.date(2020, 4, 28), "003.20"),
    (dt.date(2021, 11, 4), "003.40"),
    (dt.date(2023, 3, 28), "003.61"),
)
AZIMUTH_NOISE_IPF, RFI_IPF = "002.90", "003.40"

#: Acquisition windows of the four quarterly composites (the ARD contract's), (month, day)
#: of the first and last day, both included.
QUARTERS = (
    ((1, 15), (3, 15)),
    ((4, 15), (6, 15)),
    ((7, 15), (9, 15)),
    ((10, 15), (12, 15)),
)


@dataclass(frozen=True)
class Scene:
    """One acquisition over one cell."""

    platform: str
    """``"S1A"`` or ``"S1B"``."""
    pass_direction: str
    cell: Cell
    relative_orbit: int
    absolute_orbit: int
    centre_time: dt.datetime
    """UTC time at which the cell centre is imaged (naive datetime)."""
    partial: bool = False
    """The single scene of its cell's partial quarter: the datatake ends over the cell."""


def s1_scenes(year: int, lon: float, lat: float) -> list[Scene]:
    """The acquisitions of ``year`` over the cell holding (lon, lat), by time.

    Per pass one relative orbit sees the cell (the one whose track runs nearest), every 12
    days per platform, S1B 6 days after S1A until its failure in December 2021. In one quarter
    window (:func:`partial_quarter`) a single acquisition is left and it covers the cell only
    in part; the others are dropped, as when a datatake is cancelled.
    """
    cell = cell_of(lon, lat)
    scenes = [
        scene
        for pass_direction in HEADING_DEG
        for platform in _ORBIT_OFFSET
        for scene in _platform_scenes(year, cell, pass_direction, platform)
    ]
    scenes.sort(key=lambda scene: scene.centre_time)
    quarter, pass_direction = partial_quarter(year, cell)
    in_quarter = [s for s in scenes if quarter_of(s.centre_time, year) == quarter]
    # None before Sentinel-1 flew: then there is nothing to drop either.
    kept = next((s for s in in_quarter if s.pass_direction == pass_direction), None)
    dropped = [s for s in in_quarter if s is not kept]
    return [replace(s, partial=True) if s is kept else s for s in scenes if s not in dropped]


def quarter_of(moment: dt.datetime, year: int) -> int | None:
    """Index (0-3) of the quarter window of ``year`` holding the moment's day, else None."""
    day = moment.date()
    for q, ((m0, d0), (m1, d1)) in enumerate(QUARTERS):
        if dt.date(year, m0, d0) <= day <= dt.date(year, m1, d1):
            return q
    return None


def partial_quarter(year: int, cell: Cell) -> tuple[int, str]:
    """The quarter (0-3) in which the cell has a single, partial scene, and that scene's pass.
    Chosen per 1-degree square and year, so neighbouring tiles share it."""
    square = (math.floor(cell[0] * CELL_DEG), math.floor(cell[1] * CELL_DEG))
    u = uniform("partial quarter", year, *square)
    return int(u * 4), ("ascending", "descending")[int(u * 8) % 2]


def scenes_in_windows(scenes: Sequence[Scene], year: int) -> list[Scene]:
    """The scenes inside the quarter windows: the only ones a quarterly composite reads."""
    return [s for s in scenes if quarter_of(s.centre_time, year) is not None]


def _platform_scenes(year: int, cell: Cell, pass_direction: str, platform: str) -> list[Scene]:
    grid = radar_grid(cell, pass_direction)
    absolute, first = _first_pass(grid, platform)
    begin, end = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
    on, off = _OPERATION[platform]
    cycle = dt.timedelta(days=REPEAT_DAYS)
    k = math.ceil((max(begin, on) - first) / cycle)
    scenes = []
    while (time := first + k * cycle) < min(end, off):
        absolute_k = absolute + k * ORBITS_PER_CYCLE
        relative = (absolute_k - _ORBIT_OFFSET[platform]) % ORBITS_PER_CYCLE + 1
        scenes.append(Scene(platform, pass_direction, cell, relative, absolute_k, time))
        k += 1
    return scenes


def _first_pass(grid: RadarGrid, platform: str) -> tuple[int, dt.datetime]:
    """An absolute orbit of ``platform`` over the cell on the grid's relative orbit, and the
    time the cell centre is imaged on it."""
    anchor_orbit, anchor_time, _, anchor_lat = ANCHORS[grid.pass_direction]
    absolute = anchor_orbit + grid.orbit_index
    # Time from the ascending node to the latitude, on the way up or down.
    up = grid.pass_direction == "ascending"
    phase = (grid.centre_lat if up else 180 - grid.centre_lat) - (
        anchor_lat if up else 180 - anchor_lat
    )
    time = anchor_time + dt.timedelta(
        seconds=grid.orbit_index * ORBIT_PERIOD_S + phase / 360 * ORBIT_PERIOD_S
    )
    if platform == "S1A":
        return absolute, time
    # S1B flies the same tracks half a cycle later, with its own orbit count.
    time += dt.timedelta(days=REPEAT_DAYS / 2)
    b_orbit, b_time = _S1B_ANCHOR
    estimate = b_orbit + round((time - b_time).total_seconds() / ORBIT_PERIOD_S)
    relative = (absolute - _ORBIT_OFFSET["S1A"]) % ORBITS_PER_CYCLE
    shift = (relative + _ORBIT_OFFSET["S1B"] - estimate) % ORBITS_PER_CYCLE
    return estimate + shift - (ORBITS_PER_CYCLE if shift > ORBITS_PER_CYCLE // 2 else 0), time


# --- Names and times ----------------------------------------------------------------------


def ipf_version(day: dt.date) -> str:
    return next(v for since, v in reversed(IPF_VERSIONS) if day >= since)


def timestamp(t: dt.datetime) -> str:
    """A time as the annotations and items write it (UTC, microseconds, no zone)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def scene_times(scene: Scene) -> tuple[dt.datetime, dt.datetime]:
    """Times of the image's first and last line."""
    grid = radar_grid(scene.cell, scene.pass_direction)
    start = scene.centre_time + dt.timedelta(seconds=grid.first_line * LINE_TIME_S)
    return start, start + dt.timedelta(seconds=(grid.lines - 1) * LINE_TIME_S)


def line_time(scene: Scene, line: float) -> dt.datetime:
    return scene_times(scene)[0] + dt.timedelta(seconds=float(line) * LINE_TIME_S)


def datatake_id(scene: Scene) -> int:
    orbit, datatake = _DATATAKE[scene.platform]
    up = scene.pass_direction == "ascending"
    return datatake + round((scene.absolute_orbit - orbit) * _DATATAKES_PER_ORBIT) + up


def product_id(scene: Scene) -> str:
    """The SAFE product name, ``S1A_IW_GRDH_1SDV_<start>_<stop>_<orbit>_<datatake>_<CRC>``
    (the CRC a hash of the rest here).

    Demo scenes are cell-sized pieces of one datatake, and pieces side by side across the
    track are imaged in the same second, where a real product would hold them all. So that
    each gets its own name and item id, the stop time in the name is the start's second plus
    a whole number of seconds set by the cell's column and row parity: pieces that share a
    start second lie in the same or adjacent rows, and those of one row that share the
    number lie 64 columns apart, wider than a swath up to 50 degrees latitude. The
    annotations and the item's ``end_datetime`` keep the image's true last-line time.
    """
    start, _ = scene_times(scene)
    seconds = 1 + scene.cell[0] % 64 + 64 * (scene.cell[1] % 2)
    stop = start.replace(microsecond=0) + dt.timedelta(seconds=seconds)
    stem = (
        f"{scene.platform}_IW_GRDH_1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
        f"{scene.absolute_orbit:06d}_{datatake_id(scene):06X}"
    )
    crc = hashlib.sha256(stem.encode()).hexdigest()[:4].upper()
    return f"{stem}_{crc}"


def item_id(scene: Scene) -> str:
    """Earth Search's item id: the product name without its CRC."""
    return product_id(scene).rsplit("_", 1)[0]


def uniform(*key: object) -> float:
    """A reproducible number in [0, 1) per key (not Python's hash, which varies per run)."""
    return seed(*key) / 2**64


def seed(*key: object) -> int:
    """A reproducible 64-bit integer per key."""
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "big")
