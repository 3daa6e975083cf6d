"""A tile job run by Snakemake itself (e.g. --executor local); the lithops executor calls
loaders.jobs.run_job in its workers with the same spec instead."""

import json
import sys

sys.stderr = open(snakemake.log[0], "w")

from loaders.jobs import run_job

print(json.dumps(run_job(snakemake.params.loader), indent=2, sort_keys=True), file=sys.stderr)
