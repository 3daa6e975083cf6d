"""The one entry point of a tile job, whether a Lithops worker or a local Snakemake job runs it."""

from __future__ import annotations

import time

from loaders import dem, s1, s2

#: Product name (the Snakemake rule) -> the loader's ``run(spec) -> summary`` function.
LOADERS = {"dem": dem.run, "s1": s1.run, "s2": s2.run}


def run_job(spec: dict) -> dict:
    """Run the loader that ``spec["product"]`` names and return its summary with the wall time.

    ``spec`` is plain JSON-able data built by the workflow (see ``workflow/rules/common.smk``),
    so that it travels unchanged to a Lambda worker.
    """
    started = time.time()
    summary = LOADERS[spec["product"]](spec)
    return {"product": spec["product"], "seconds": round(time.time() - started, 3), **summary}
