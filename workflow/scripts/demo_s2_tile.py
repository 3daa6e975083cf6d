"""Make sure the demo archive holds the Sentinel-2 scenes of a tile, then mark the tile done.

The first job of a year generates the scenes of every requested tile of that year at once
(under a lock, so parallel jobs wait for it instead of regenerating the same granules); the
others find their tile covered and only write their marker. The archive only grows: tiles
covered by earlier requests keep their pixels, so their outputs stay valid.
"""

import fcntl
import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from loaders.ard_io import replace_atomically
from loaders.demo.s2 import write_s2_archive

year = int(snakemake.wildcards.year)
lock_path = Path(snakemake.params.archive) / "demo-coverage/sentinel-2-l2a" / f"{year}.lock"
lock_path.parent.mkdir(parents=True, exist_ok=True)
with open(lock_path, "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    summary = write_s2_archive(
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
