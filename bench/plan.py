"""Planning a request: ``snakemake -n`` of the workflow beside a bare Snakefile with the same
file graph, side by side in one run.

    .venv/bin/python bench/plan.py [--sizes 1000 10000] [--tiledb PATH | --generated]
        [--seed 15] [--s3]

For each size, tiles are drawn with a fixed seed from the full tile DB (``--tiledb``, default
``../shared/data/tiledb.parquet``) when it is there, or else (or with ``--generated``) from a
generated table of the same columns (the workflow is then given only the drawn rows as its
tile DB). Then, each in a fresh process:

- the workflow: ``snakemake -n`` with ``source=earth-search``, an empty local destination and
  the shipped profile, as a user plans a run; with ``--s3``, an empty bucket on moto's S3
  server on loopback instead, as a run on Lambda plans (Snakemake then checks every file
  through the ard-s3 storage plugin);
- the floor: a bare Snakefile whose three rules (dem, s1, s2) write the same files per tile
  (the contract's 9 and the 3 QA records) with ``touch``, one ``all`` rule asking for them, no
  plugin, no checks.

A size above the workflow's max_plan_tiles (10,000) is planned as its first batch of N, as a
user runs it (``--config batch=1/N``: the workflow reads the whole request, then plans the
batch's tiles); the floor plans the same tiles.

Prints wall seconds and peak resident memory (the process's own high-water mark) of both,
and their ratios. The goal of the scale issue: <= 1.2x the floor's time and <= 1 GB at 10k
tiles.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ttc_ard.keys import key_patterns, record_pattern
from ttc_ard.request import batch_of

REPO = Path(__file__).resolve().parents[1]
# The tests' S3 server: moto on loopback, with the credentials it takes.
sys.path.insert(0, str(REPO / "tests"))
from s3_server import CREDENTIALS, S3Server  # noqa: E402

BUCKET = "ttc-ard-bench"
FULL_TILEDB = REPO.parent / "shared/data/tiledb.parquet"
PRODUCTS = ("dem", "s1", "s2")
YEAR = 2023
#: The workflow's default max_plan_tiles: larger sizes are planned in batches of at most this.
MAX_PLAN_TILES = yaml.safe_load((REPO / "config/config.yaml").read_text())["max_plan_tiles"]

FLOOR_SNAKEFILE = """
import json

TILES = json.load(open(config["tiles"]))


rule all:
    input:
        [
            pattern.format(year={year}, x_tile=x, y_tile=y)
            for x, y in TILES
            for pattern in {patterns!r}
        ],

"""
FLOOR_RULE = """
rule {product}:
    output:
        {outputs}
    shell:
        "touch {{output}}"

"""


def draw_tiles(tiledb: Path | None, size: int, seed: int) -> pd.DataFrame:
    """``size`` rows of the tile DB (or of a generated table of its columns), drawn with
    ``seed``."""
    if tiledb is not None:
        table = pd.read_parquet(tiledb)
    else:
        # The tropics on the 1/18 degree lattice, as the DB lays them out.
        x_tile, y_tile = np.meshgrid(np.arange(6480), np.arange(1000, 1900))
        table = pd.DataFrame(
            {
                "X": ((x_tile.ravel() + 0.5) / 18 - 180).round(4),
                "Y": ((y_tile.ravel() + 0.5) / 18 - 90).round(4),
                "Y_tile": y_tile.ravel(),
                "X_tile": x_tile.ravel(),
            }
        )
    rows = np.sort(np.random.default_rng(seed).choice(len(table), size, replace=False))
    return table.iloc[rows]


def floor_snakefile() -> str:
    outputs = {
        product: [*key_patterns(product).values(), record_pattern(product)] for product in PRODUCTS
    }
    rules = "".join(
        FLOOR_RULE.format(
            product=product,
            outputs="\n        ".join(f'"{pattern}",' for pattern in patterns),
        )
        for product, patterns in outputs.items()
    )
    every = [pattern for patterns in outputs.values() for pattern in patterns]
    return FLOOR_SNAKEFILE.format(year=YEAR, patterns=every) + rules


def timed(command: list[str], folder: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak resident MB of ``command`` run in ``folder``; stops the bench with
    its output if it fails. The peak is the process's own high-water mark (VmHWM, which exec
    starts afresh), read while it runs: ``ru_maxrss`` of a forked child also counts the pages
    of this process, which holds the tile table."""
    output = folder / "output.txt"
    started = time.perf_counter()
    with output.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=folder, stdout=sink, stderr=subprocess.STDOUT, env=os.environ | env
        )
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, high_water_kb(process.pid))
            time.sleep(0.1)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} ... failed:\n{output.read_text()[-3000:]}")
    return seconds, peak_kb // 1024


def high_water_kb(pid: int) -> int:
    """VmHWM of the process ``pid`` in kB; 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM")), "VmHWM: 0")
    return int(line.split()[1])


def plan_workflow(
    tiles: pd.DataFrame, tiledb: Path, folder: Path, batches: int, s3: S3Server | None
) -> tuple[float, int]:
    request = folder / "request.json"
    ids = [f"{x}X{y}Y" for x, y in zip(tiles.X_tile, tiles.Y_tile, strict=True)]
    request.write_text(json.dumps({"bench": {str(YEAR): {"missing_tiles": ids}}}))
    lithops = str(REPO / "config/lithops/localhost.yaml")
    # An empty destination: a folder, or a prefix of the S3 server's bucket.
    dest = [f"dest={folder / 'dest'}"]
    if s3:
        dest = [f"dest=s3://{BUCKET}/{folder.parent.name}", f"s3_endpoint_url={s3.endpoint_url}"]
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "-n",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--configfile",
        str(REPO / "config/config.yaml"),
        "--workflow-profile",
        str(REPO / "profiles/default"),
        "--config",
        f"request={request}",
        f"tiledb={tiledb}",
        "source=earth-search",
        *dest,
        f"lithops_config={json.dumps({'eu-central-1': lithops, 'us-west-2': lithops})}",
    ]
    if batches > 1:
        command += [f"batch=1/{batches}"]
    return timed(command, folder, CREDENTIALS if s3 else {})


def plan_floor(tiles: pd.DataFrame, folder: Path, batches: int) -> tuple[float, int]:
    (folder / "Snakefile").write_text(floor_snakefile())
    # The tiles of the workflow's first batch: its share of the request in the tiles CSV's order.
    share = batch_of(tiles.sort_values(["X_tile", "Y_tile"]), f"1/{batches}" if batches > 1 else "")
    pairs = [[int(x), int(y)] for x, y in zip(share.X_tile, share.Y_tile, strict=True)]
    (folder / "tiles.json").write_text(json.dumps(pairs))
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "-n",
        "--cores",
        "1",
        "--config",
        "tiles=tiles.json",
    ]
    return timed(command, folder, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--tiledb", type=Path, default=FULL_TILEDB)
    parser.add_argument(
        "--generated", action="store_true", help="draw from a generated table, not the tile DB"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--s3", action="store_true", help="plan the workflow into S3 (moto on loopback)"
    )
    args = parser.parse_args()
    s3 = S3Server() if args.s3 else None
    if s3:
        s3.client().create_bucket(Bucket=BUCKET)
    if args.generated or not args.tiledb.exists():
        args.tiledb = None
    source = args.tiledb or "a generated table of the tile DB's columns"
    print(f"tiles drawn with seed {args.seed} from {source}")
    if s3:
        print(f"workflow destination: s3://{BUCKET}/<scratch folder> on {s3.endpoint_url}")
    print(f"{'tiles':>7} {'batch':>6} {'jobs':>7} {'workflow s':>10} {'floor s':>8} {'ratio':>6} "
          f"{'workflow MB':>11} {'floor MB':>8} {'ratio':>6}")  # fmt: skip
    for size in args.sizes:
        tiles = draw_tiles(args.tiledb, size, args.seed)
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            (folder / "workflow").mkdir()
            (folder / "floor").mkdir()
            tiledb = args.tiledb
            if tiledb is None:
                tiledb = folder / "tiledb.parquet"
                tiles.to_parquet(tiledb)
            batches = math.ceil(size / MAX_PLAN_TILES)
            ours = plan_workflow(tiles, tiledb, folder / "workflow", batches, s3)
            floor = plan_floor(tiles, folder / "floor", batches)
        jobs = 3 * math.ceil(size / batches) + 3
        print(
            f"{size:>7} {f'1/{batches}':>6} {jobs:>7} {ours[0]:>10.1f} {floor[0]:>8.1f} "
            f"{ours[0] / floor[0]:>5.2f}x {ours[1]:>11} {floor[1]:>8} {ours[1] / floor[1]:>5.2f}x"
        )


if __name__ == "__main__":
    main()
