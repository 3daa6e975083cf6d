"""The one entry point of a tile job, whether a Lithops worker or a local Snakemake job runs it."""

from __future__ import annotations

import logging
import time

from loaders import dem, s1, s2

#: Product name (the Snakemake rule) -> the loader's ``run(spec) -> summary`` function.
LOADERS = {"dem": dem.run, "s1": s1.run, "s2": s2.run}

#: Loggers that print every HTTP request with its headers at DEBUG, the AWS access key id
#: (in the signature) among them; Lithops's local runner logs everything at DEBUG to a file.
REQUEST_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


def run_job(spec: dict) -> dict:
    """Run the loader that ``spec["product"]`` names and return its summary with the wall time.

    ``spec`` is plain JSON-able data built by the workflow (see ``workflow/rules/common.smk``),
    so that it travels unchanged to a Lambda worker.
    """
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    started = time.time()
    summary = LOADERS[spec["product"]](spec)
    return {"product": spec["product"], "seconds": round(time.time() - started, 3), **summary}
