"""Make sure the demo archive holds a collection's scenes over a tile, then mark the tile done.

The first job of a year generates the scenes of every requested tile of that year at once
(under a lock per collection and year, so parallel jobs wait for it instead of generating the
same scenes again); the others find their tile covered and only write their marker. The
archive only grows: tiles covered by earlier requests keep their pixels, so their outputs stay
valid.
"""

import fcntl
import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from demo_archive.s1 import write_s1_archive
from demo_archive.s2 import write_s2_archive
from loaders.ard_io import replace_atomically

WRITERS = {"sentinel-1-grd": write_s1_archive, "sentinel-2-l2a": write_s2_archive}

collection, year = snakemake.wildcards.collection, int(snakemake.wildcards.year)
lock_path = Path(snakemake.params.archive) / "demo-coverage" / collection / f"{year}.lock"
lock_path.parent.mkdir(parents=True, exist_ok=True)
with open(lock_path, "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    summary = WRITERS[collection](
        snakemake.params.archive,
        year,
        [tuple(centre) for centre in snakemake.params.year_centres],
        workers=snakemake.threads,
    )
print(json.dumps(summary, indent=1, default=str), file=sys.stderr)
marker = {"tile": snakemake.params.tile, "archive": summary}
replace_atomically(
    snakemake.output[0],
    lambda tmp: Path(tmp).write_text(json.dumps(marker, indent=1, default=str) + "\n"),
)
