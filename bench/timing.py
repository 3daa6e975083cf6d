"""Timing and tiles shared by the benchmarks."""

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from loaders.tiles import Tile

#: The four tiles of the demo request (config/requests/demo.json).
DEMO_TILES = [
    Tile(year=2023, x_tile=1655, y_tile=1083, lon=-1.6944, lat=6.6389),
    Tile(year=2023, x_tile=1656, y_tile=1083, lon=-1.6389, lat=6.6389),
    Tile(year=2023, x_tile=1655, y_tile=1084, lon=-1.6944, lat=6.6944),
    Tile(year=2023, x_tile=1656, y_tile=1084, lon=-1.6389, lat=6.6944),
]


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``action``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# The child reports its own high-water mark: VmHWM belongs to the address space made by exec,
# whereas ru_maxrss of a forked child also counts the pages it shared with this process.
_CHILD = """
import dataclasses, json, resource, sys
from loaders import accounting
from loaders.jobs import run_job
result = run_job(json.loads(sys.argv[1]))
usage = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
windows = [dataclasses.asdict(w) for w in accounting.current().windows]
print(json.dumps({"result": result, "cpu": usage.ru_utime + usage.ru_stime,
                  "peak_mb": int(hwm.split()[1]) // 1024, "windows": windows}, default=str))
"""


def loader_in_fresh_process(spec: dict, env: dict | None = None) -> dict:
    """Run the tile job ``spec`` (``loaders.jobs.run_job``) in a new Python process (with the
    environment ``env``, or this one's): its ``result`` (the job's summary), wall ``seconds``
    with the process start, ``cpu`` seconds, peak resident memory ``peak_mb`` and the raster
    ``windows`` its sources read (:class:`loaders.accounting.WindowRead` fields)."""
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return {"seconds": time.perf_counter() - started, **json.loads(child.stdout)}
