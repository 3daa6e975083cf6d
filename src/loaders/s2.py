"""Sentinel-2 L2A ARD: the pure core (arrays and scene facts in, arrays and decisions out).

Stage 1 chooses clean days from SCL at 640 m over the cloud bbox (:func:`cloud_fractions`,
:func:`select_clean_days`, :func:`clouds_grid`); stage 2 matches each clean day to a scene over
the tile (:func:`nearest_scene_day`), drops images with too many bad pixels
(:func:`bad_fraction`), builds the cirrus mask (:func:`cirrus_mask`), harmonises the L2A
offset of processing baseline 04.00 (:func:`decide_offset`) and encodes reflectance
(:func:`reflectance_u16`). None of them does I/O: searching and reading are
:mod:`loaders.s2_source`'s, the tile job :mod:`loaders.s2_job`'s.
"""

from __future__ import annotations

import datetime
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from loaders import tiles

#: Earth Search asset keys of the contract's bands, in the contract's order.
BANDS_10M = ("blue", "green", "red", "nir")  # B02 B03 B04 B08
BANDS_20M = ("rededge1", "rededge2", "rededge3", "nir08", "swir16", "swir22")  # B05-B07 B8A B11 B12
#: The bands whose dark pixels tell whether DNs carry the +1000 offset (see
#: :func:`pixel_offset_evidence`).
VISIBLE = ("blue", "green", "red")
#: Stage 1 looks at clouds over the tile's centre +- 150/360 degree (about 93 km).
CLOUD_BBOX_HALF_DEG = 150 / 360
#: Stage 2 drops an image whose SCL at 160 m over the tile is cloudier than this.
MAX_TILE_BAD_FRACTION = 0.20
#: A clean day takes the scene over the tile nearest to it, less than this many days away.
MAX_SCENE_DAY_DISTANCE = 3

#: SCL classes that make a pixel unusable: 0 no data, 1 saturated/defective, 2 dark area,
#: 3 cloud shadow, 7 unclassified, 8 cloud medium, 9 cloud high, 10 thin cirrus, 11 snow.
CLOUDY_SCL_CLASSES = frozenset({0, 1, 2, 3, 7, 8, 9, 10, 11})
#: SCL class of thin cirrus, the source of the cirrus mask.
CIRRUS_SCL_CLASS = 10
#: SCL classes of clear land (vegetation, not vegetated): the pixels whose DNs testify about
#: the L2A offset.
CLEAR_LAND_SCL_CLASSES = (4, 5)

# One lookup per pixel instead of nine comparisons; SCL is uint8, so 256 entries cover it.
_CLOUDY_LUT = np.zeros(256, dtype=bool)
_CLOUDY_LUT[sorted(CLOUDY_SCL_CLASSES)] = True

#: L2A DNs per unit of reflectance (the contract's DN / 10000).
DN_PER_REFLECTANCE = 10_000
#: Output reflectance 1.0 is stored as this uint16 value.
U16_FULL_SCALE = 65_535
#: The offset ESA adds to L2A DNs from processing baseline 04.00 on (BOA_ADD_OFFSET = -1000).
BOA_OFFSET_DN = 1000
#: The scale Earth Search v1 declares for every L2A reflectance asset.
EXPECTED_SCALE = 1e-4

#: Fewer valid pixels than this and :func:`pixel_offset_evidence` does not decide: 1 % of it
#: is 100 pixels and the 0.5th percentile rests on 50, enough not to hinge on a few odd ones.
MIN_EVIDENCE_PIXELS = 10_000
#: "Absent": more than ABSENT_MIN_SHARE of valid pixels lie below ABSENT_BELOW_DN. With the
#: offset such DNs would be reflectance below -0.02, which L2A gives only for a rare
#: overcorrected pixel; without it they are visible reflectance below 0.08, which water,
#: forest and shadow produce in quantity. The margin of 200 DN keeps slightly negative water
#: of an offset scene from reading as "absent".
ABSENT_BELOW_DN = BOA_OFFSET_DN - 200
ABSENT_MIN_SHARE = 0.01
#: "Present": essentially nothing below the offset (at most PRESENT_MAX_SHARE_BELOW of valid
#: pixels) and the dark tail (the PRESENT_TAIL_QUANTILE) within PRESENT_TAIL_BELOW_DN, i.e.
#: reflectance below 0.02 with the offset. Having no DN below 1000 is not enough on its own: a
#: bright scene without the offset (desert, whose darkest visible reflectance can be 0.1 and
#: more) has none either; what it lacks is a dark tail pressed against 1000 with almost
#: nothing beneath it. It would need a histogram edge landing on 0.10-0.12 to fool this.
PRESENT_MAX_SHARE_BELOW = 0.0005
PRESENT_TAIL_QUANTILE = 0.005
PRESENT_TAIL_BELOW_DN = BOA_OFFSET_DN + 200

# Fractions are ratios of pixel counts and thresholds are decimal numbers: a fraction that
# equals a threshold on paper may land a rounding error above or below it. This tolerance keeps
# such a value on the side the contract's wording ("> 0.50", "<= 0.40") puts it.
_TOLERANCE = 1e-9

# Days before each month in a 365-day year (February = 28), the legacy day numbers' calendar.
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


# --- Cloud statistics --------------------------------------------------------------------------


def cloudy(scl: np.ndarray) -> np.ndarray:
    """Boolean array, True where the SCL class is one of :data:`CLOUDY_SCL_CLASSES`.

    ``scl`` is uint8 (any shape), as SCL is stored.
    """
    scl = np.asarray(scl)
    if scl.dtype != np.uint8:
        raise ValueError(f"SCL must be uint8, got {scl.dtype}")
    return _CLOUDY_LUT[scl]


def bad_fraction(scl: np.ndarray) -> np.ndarray:
    """Cloudy share of each image of ``scl`` (T, h, w) uint8, as float64 (T,).

    Stage 2 drops the images above 0.20; stage 1 calls the same share "global" cloud.
    """
    _check_stack(scl, "SCL")
    return cloudy(scl).mean(axis=(1, 2))


def cloud_fractions(scl: np.ndarray, centre_px: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the cloudy share of the whole grid ("global") and of its centre ("local").

    ``scl`` is (days, h, w) uint8 at 640 m over the cloud bbox. The centre is the
    ``centre_px`` x ``centre_px`` window starting at row ``(h - centre_px) // 2`` and column
    ``(w - centre_px) // 2``: when the margin left over is odd, the window sits half a pixel
    north-west of the true centre (one more row and column south-east of it than north-west).
    Returns two float64 (days,) arrays.
    """
    _check_stack(scl, "SCL")
    _, h, w = scl.shape
    if not 1 <= centre_px <= min(h, w):
        raise ValueError(f"centre window of {centre_px} px does not fit the {h} x {w} grid")
    top, left = (h - centre_px) // 2, (w - centre_px) // 2
    centre = scl[:, top : top + centre_px, left : left + centre_px]
    return bad_fraction(scl), bad_fraction(centre)


def clouds_grid(scl640: np.ndarray) -> np.ndarray:
    """The legacy ``clouds_T.hkl`` array of the candidate days: float32 (T, h, w).

    The old pipeline stored cloudiness as 0/1 times 255 and then replaced values above 100 by
    NaN, so a clear pixel reads 0.0 and a cloudy one NaN. The downstream code expects exactly
    that, so the quirk is kept for compatibility.
    """
    _check_stack(scl640, "SCL")
    encoded = cloudy(scl640).astype(np.float32) * np.float32(255)
    encoded[encoded > 100] = np.nan
    return encoded


def cirrus_mask(scl: np.ndarray) -> np.ndarray:
    """Thin cirrus (SCL class 10) per image of ``scl`` (T, h, w) uint8, isolated pixels removed."""
    _check_stack(scl, "SCL")
    return remove_isolated(scl == CIRRUS_SCL_CLASS)


def remove_isolated(mask: np.ndarray) -> np.ndarray:
    """``mask`` (T, h, w) bool with every True pixel that has no True 8-neighbour in the same
    image set to False; pixels outside the image count as False."""
    _check_stack(mask, "mask")
    # The 8 neighbours in the same image only: a footprint one image deep, its centre left out.
    neighbours = np.ones((1, 3, 3), dtype=bool)
    neighbours[0, 1, 1] = False
    has_neighbour = ndimage.binary_dilation(mask.astype(bool, copy=False), structure=neighbours)
    return mask & has_neighbour


def _check_stack(array: np.ndarray, name: str) -> None:
    if np.ndim(array) != 3:
        raise ValueError(f"{name} must be a (T, h, w) stack, got shape {np.shape(array)}")


# --- Stage 1: clean days ------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudRules:
    """The contract's stage-1 thresholds (see :func:`select_clean_days`)."""

    max_global: float = 0.50
    """Days whose global cloud is above this are dropped."""
    weighted_above_global: float = 0.30
    """Where global cloud is above this, the score weighs in the local cloud."""
    global_weight: float = 0.25
    """Weight of global cloud in the weighted score; local cloud gets ``1 - global_weight``."""
    max_score: float = 0.40
    """Days whose score is above this are dropped."""
    month_local_margin: float = 0.20
    """A day is dropped when a day of its month has local cloud lower by more than this."""
    max_per_month: int = 2
    """Days kept per calendar month (lowest scores) before the top-up."""
    max_total: int = 24
    """Days kept in total (lowest scores); also the count the top-up fills to."""


#: Why :func:`select_clean_days` dropped a candidate day ("" = kept).
DropReason = Literal["", "global", "score", "month_local", "month_cap", "total_cap"]


@dataclass(frozen=True)
class DaySelection:
    """The outcome of :func:`select_clean_days` for n candidate days."""

    kept: np.ndarray
    """int64 indices of the kept candidates, in chronological order."""
    score: np.ndarray
    """float64 (n,) score of every candidate, dropped ones included."""
    dropped_reason: tuple[DropReason, ...]
    """Per candidate, "" if kept, else the rule that dropped it (see :func:`select_clean_days`)."""


def select_clean_days(
    dates: Sequence[datetime.date],
    global_cloud: np.ndarray,
    local_cloud: np.ndarray,
    rules: CloudRules = CloudRules(),
) -> DaySelection:
    """Choose the clean days among candidate solar days, by the contract's stage-1 rules.

    ``dates`` are the candidates' solar days, one per candidate and all different (the SCL is
    grouped by solar day first), in any order; ``global_cloud`` and ``local_cloud`` their
    cloud fractions from :func:`cloud_fractions`. The rules, in order, with the reason
    recorded for a day each one drops:

    1. "Drop days with global > 0.50." -> ``"global"``.
    2. "Score = global, except where global > 0.30: score = 0.25·global + 0.75·local. Keep
       score ≤ 0.40." -> ``"score"``. Every candidate gets a score, dropped ones included.
    3. "Within a month, drop a day when another day of that month has local cloud lower by
       more than 0.20." -> ``"month_local"``. Only days still in after rules 1-2 compete:
       a day that cannot be chosen does not knock out one that can. A month is a calendar
       month of a calendar year.
    4. "Keep at most 2 days per month (lowest score)" -> ``"month_cap"`` for a day cut here
       and not restored by rule 6.
    5. "at most 24 in total (lowest score)" -> ``"total_cap"``: among the days left by rule 4.
    6. "top up to 24 from the remaining kept days": when rules 4-5 leave fewer than 24 days,
       the days rule 4 cut (all passed rules 1-3) come back, lowest score first, until there
       are 24. A topped-up day is kept and has reason "".
    7. "chronological order": ``kept`` is sorted by date.

    "Lowest score" ties are broken by date, earlier first, so the result depends on nothing
    but the inputs. Thresholds are compared with a 1e-9 tolerance, so that a fraction equal to
    a threshold on paper stays on the side the wording gives it despite float rounding.
    """
    global_cloud = np.asarray(global_cloud, dtype=np.float64)
    local_cloud = np.asarray(local_cloud, dtype=np.float64)
    n = len(dates)
    if global_cloud.shape != (n,) or local_cloud.shape != (n,):
        raise ValueError(
            f"{n} dates need {n} global and local cloud fractions, got shapes "
            f"{global_cloud.shape} and {local_cloud.shape}"
        )
    ordinal = np.array([d.toordinal() for d in dates], dtype=np.int64)
    if len(np.unique(ordinal)) != n:
        repeated = sorted(d.isoformat() for d, count in Counter(dates).items() if count > 1)
        raise ValueError(f"candidate days must be distinct solar days; repeated: {repeated}")
    month = np.array([d.year * 12 + d.month - 1 for d in dates], dtype=np.int64)

    weighted = global_cloud > rules.weighted_above_global + _TOLERANCE
    score = np.where(
        weighted,
        rules.global_weight * global_cloud + (1 - rules.global_weight) * local_cloud,
        global_cloud,
    )
    reason = np.full(n, "", dtype=object)

    too_cloudy = global_cloud > rules.max_global + _TOLERANCE
    reason[too_cloudy] = "global"
    high_score = ~too_cloudy & (score > rules.max_score + _TOLERANCE)
    reason[high_score] = "score"

    # Rule 3: a day loses when its month's clearest-centred remaining day beats it by > margin.
    alive = np.flatnonzero(reason == "")
    months, month_index = np.unique(month[alive], return_inverse=True)
    month_min_local = np.full(len(months), np.inf)
    np.minimum.at(month_min_local, month_index, local_cloud[alive])
    beaten = (
        local_cloud[alive] > month_min_local[month_index] + rules.month_local_margin + _TOLERANCE
    )
    reason[alive[beaten]] = "month_local"
    alive = alive[~beaten]

    # Preference: lower score first, then earlier date; a total order since dates differ.
    preference = np.empty(n, dtype=np.int64)
    preference[np.lexsort((ordinal, score))] = np.arange(n)

    # Rule 4: rank each remaining day within its month by preference.
    by_month = alive[np.lexsort((preference[alive], month[alive]))]
    position = np.arange(len(by_month))
    month_starts = np.ones(len(by_month), dtype=bool)
    month_starts[1:] = month[by_month][1:] != month[by_month][:-1]
    rank_in_month = position - np.maximum.accumulate(np.where(month_starts, position, 0))
    within_cap = _by_preference(by_month[rank_in_month < rules.max_per_month], preference)
    cut_by_month = _by_preference(by_month[rank_in_month >= rules.max_per_month], preference)

    # Rules 5 and 6: the total cap, then the top-up from the month cap's cuts.
    kept = within_cap[: rules.max_total]
    reason[within_cap[rules.max_total :]] = "total_cap"
    top_up = cut_by_month[: max(rules.max_total - len(kept), 0)]
    reason[cut_by_month[len(top_up) :]] = "month_cap"
    kept = np.concatenate([kept, top_up])

    return DaySelection(
        kept=kept[np.argsort(ordinal[kept])].astype(np.int64),
        score=score,
        dropped_reason=tuple(reason.tolist()),
    )


def _by_preference(indices: np.ndarray, preference: np.ndarray) -> np.ndarray:
    return indices[np.argsort(preference[indices])]


# --- Stage 2: scene per clean day ---------------------------------------------------------------


def nearest_scene_day(
    clean_day: datetime.date,
    scene_days: Sequence[datetime.date],
    coverage: Sequence[float],
    max_days: int = MAX_SCENE_DAY_DISTANCE,
) -> int | None:
    """Index of the scene to load for ``clean_day``, or None if no scene is close enough.

    Candidates are the scenes less than ``max_days`` days from the clean day (either side).
    The closest wins; among equally close ones the higher ``coverage`` (share of the tile bbox
    inside the footprint), then the earlier day, then the earlier index (several scenes of
    one day). The contract's "prefer coverage >= 0.95" needs no rule of its own: a scene at or
    above 0.95 always has the higher coverage of the two.
    """
    if len(scene_days) != len(coverage):
        raise ValueError(f"{len(scene_days)} scene days but {len(coverage)} coverages")
    candidates = [i for i, day in enumerate(scene_days) if abs((day - clean_day).days) < max_days]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda i: (abs((scene_days[i] - clean_day).days), -coverage[i], scene_days[i], i),
    )


# --- BOA offset harmonisation ---------------------------------------------------------------------


def declared_offset_dn(scale: float, offset: float) -> int:
    """The DN offset an asset's ``raster:bands[0]`` ``scale`` and ``offset`` declare.

    Reflectance = DN x scale + offset, so scale 0.0001 with offset -0.1 means 1000 DN to
    subtract, offset 0 means none. A scale other than 0.0001, or an offset that is not a
    non-positive multiple of 0.1, is not an L2A encoding this loader knows: ValueError.
    """
    if not math.isclose(scale, EXPECTED_SCALE, rel_tol=1e-6):
        raise ValueError(f"raster:bands scale {scale!r} is not the L2A scale {EXPECTED_SCALE}")
    steps = -offset / 0.1
    if not math.isfinite(steps) or abs(steps - round(steps)) > 1e-6 or round(steps) < 0:
        raise ValueError(
            f"raster:bands offset {offset!r} (scale {scale!r}) is not 0 or a negative "
            "multiple of 0.1"
        )
    return round(steps) * BOA_OFFSET_DN


def baseline_offset_dn(baseline: str) -> int:
    """The DN offset ESA's processing baseline implies: 1000 from "04.00" on, else 0."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", baseline)
    if match is None:
        raise ValueError(f"processing baseline {baseline!r} is not of the form NN.NN")
    major, minor = int(match[1]), int(match[2])
    return BOA_OFFSET_DN if (major, minor) >= (4, 0) else 0


PixelEvidence = Literal["absent", "present"]


def pixel_offset_evidence(dn: np.ndarray, nodata: int = 0) -> PixelEvidence | None:
    """What the DNs of a scene's visible bands (any shape, uint16) say about the offset.

    ``"absent"`` if more than 1 % of valid pixels lie below 800 (negative reflectance beyond
    -0.02 with the offset; ordinary dark surfaces without it), ``"present"`` if at most
    0.05 % lie below 1000 and the 0.5th percentile is below 1200 (a dark tail pressed
    against the offset), None otherwise or with fewer than 10,000 valid pixels. A bright
    scene without the offset has nothing below 1000 either but its darkest pixels sit well
    above, so it is inconclusive, not "present". Pixels equal to ``nodata`` are ignored; the
    caller may also leave out cloudy pixels, which only thins the evidence.
    """
    dn = np.asarray(dn)
    if dn.dtype != np.uint16:
        raise ValueError(f"DNs must be uint16, got {dn.dtype}")
    # A histogram gives counts and quantiles exactly, without sorting the pixels.
    counts = np.bincount(dn.reshape(-1), minlength=U16_FULL_SCALE + 1)
    counts[nodata] = 0
    below = np.cumsum(counts)  # below[v] = valid pixels with DN <= v
    valid = int(below[-1])
    if valid < MIN_EVIDENCE_PIXELS:
        return None
    if below[ABSENT_BELOW_DN - 1] > ABSENT_MIN_SHARE * valid:
        return "absent"
    tail_dn = int(np.searchsorted(below, math.ceil(PRESENT_TAIL_QUANTILE * valid)))
    if (
        below[BOA_OFFSET_DN - 1] <= PRESENT_MAX_SHARE_BELOW * valid
        and tail_dn < PRESENT_TAIL_BELOW_DN
    ):
        return "present"
    return None


@dataclass(frozen=True)
class OffsetDecision:
    """The DN offset to subtract from a scene, and the hints it was decided from."""

    offset_dn: int
    """What :func:`reflectance_u16` subtracts."""
    declared_dn: int
    """From the item's ``raster:bands`` (:func:`declared_offset_dn`)."""
    baseline_dn: int
    """From ``s2:processing_baseline`` (:func:`baseline_offset_dn`)."""
    pixels: PixelEvidence | None
    """From :func:`pixel_offset_evidence`; None when inconclusive."""
    source: Literal["metadata", "pixels"]
    """"pixels" when the pixel evidence decided, else "metadata" (declared or baseline)."""
    disagreement: str
    """"" when the hints agree, else a sentence for the QA record naming which disagreed."""


def decide_offset(
    declared_dn: int, baseline_dn: int, pixels: PixelEvidence | None
) -> OffsetDecision:
    """Decide the DN offset of a scene from its three hints.

    The declared offset, unless the hints disagree: the baseline implies another offset, or
    conclusive pixels contradict the declared one. Then conclusive pixels decide ("present"
    means :data:`BOA_OFFSET_DN`, "absent" 0), and without them the baseline does, since
    Earth Search's per-item flags and offsets have been reported wrong in both directions
    while the baseline is ESA's own. (``earthsearch:boa_offset_applied`` is not a hint: it
    travels with the declared offset rather than saying it was removed.)
    """
    pixel_dn = {"present": BOA_OFFSET_DN, "absent": 0, None: None}[pixels]
    problems = []
    if declared_dn != baseline_dn:
        problems.append(
            f"raster:bands declares an offset of {declared_dn} DN but the processing baseline "
            f"implies {baseline_dn} DN"
        )
    if pixel_dn is not None and pixel_dn != declared_dn:
        also = " and the processing baseline" if baseline_dn == declared_dn else ""
        problems.append(f"the pixels show the offset {pixels}, unlike raster:bands{also}")
    if not problems:
        return OffsetDecision(declared_dn, declared_dn, baseline_dn, pixels, "metadata", "")
    if pixel_dn is not None:
        offset_dn, source, followed = pixel_dn, "pixels", "followed the pixels"
    else:
        offset_dn, source = baseline_dn, "metadata"
        followed = "the pixels are inconclusive, followed the baseline"
    disagreement = "; ".join(problems) + f": {followed} ({offset_dn} DN)."
    return OffsetDecision(offset_dn, declared_dn, baseline_dn, pixels, source, disagreement)


# Elements per step of reflectance_u16's lookup: indexing casts the uint16 indices to intp,
# an 8-byte temporary per element, so a (24, 620, 620, 4) stack is done in 8 MB pieces.
_LOOKUP_CHUNK = 1 << 20


def _reflectance_lut(offset_dn: int, nodata: int = 0) -> np.ndarray:
    if not 0 <= offset_dn <= U16_FULL_SCALE:
        raise ValueError(f"offset of {offset_dn} DN is outside the uint16 range")
    # round(r * 65535) half up, with r = (DN - offset) / 10000 in [0, 1], in whole numbers:
    # floor((v * 65535 + 5000) / 10000) for v = DN - offset clipped to [0, 10000].
    v = np.clip(np.arange(U16_FULL_SCALE + 1, dtype=np.int64) - offset_dn, 0, DN_PER_REFLECTANCE)
    table = ((v * U16_FULL_SCALE + DN_PER_REFLECTANCE // 2) // DN_PER_REFLECTANCE).astype(np.uint16)
    table[nodata] = 0
    return table


def reflectance_u16(dn: np.ndarray, offset_dn: int, nodata: int = 0) -> np.ndarray:
    """The ARD encoding of L2A DNs: reflectance (DN - offset) / 10000 clipped to [0, 1], times
    65535 rounded half up (exactly, in integers), as uint16 of ``dn``'s shape; ``nodata``
    pixels give 0, as do reflectances at or below 0.
    """
    dn = np.asarray(dn)
    if dn.dtype != np.uint16:
        raise ValueError(f"DNs must be uint16, got {dn.dtype}")
    table = _reflectance_lut(offset_dn, nodata)
    flat = np.ascontiguousarray(dn).reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _LOOKUP_CHUNK):
        piece = slice(start, start + _LOOKUP_CHUNK)
        out[piece] = table[flat[piece]]
    return out.reshape(dn.shape)


# --- Dates --------------------------------------------------------------------------------------


def legacy_day_number(d: datetime.date, year: int) -> int:
    """The contract's legacy day number of ``d`` for the tile's ``year`` (``clean_steps``):
    ``(d.year - year) * 365 + days before d.month in a 365-day year + d.day``.

    Kept as the old pipeline computed it: February 29 and March 1 of a leap year share a
    number, and ``% 365`` does not give the day of year back; use :func:`day_of_year`.
    """
    return (d.year - year) * 365 + _DAYS_BEFORE_MONTH[d.month - 1] + d.day


def day_of_year(dates: Sequence[datetime.date], year: int) -> np.ndarray:
    """int64 day of year of each date counted from January 1 of ``year`` (= 1), with real
    calendars: a scene dated in the next year continues past 365/366, one in the previous year
    gives 0 or less, so the values stay in date order."""
    jan1 = datetime.date(year, 1, 1).toordinal()
    return np.array([d.toordinal() - jan1 + 1 for d in dates], dtype=np.int64)


def tile_cloud_bbox(tile: tiles.Tile) -> tiles.BBox:
    """The area whose clouds decide the clean days: the tile's centre +- 150/360 degree."""
    half = CLOUD_BBOX_HALF_DEG
    return tiles.BBox(tile.lon - half, tile.lat - half, tile.lon + half, tile.lat + half)
