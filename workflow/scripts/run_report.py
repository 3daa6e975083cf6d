"""The latest run's report and plots under fixed names, for `snakemake --report`."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from ttc_ard.reports import write_reports

text, plots = Path(snakemake.output.text), Path(snakemake.output.plots)
# Run logs are named by run id, which starts with the UTC time: the last one is this run's.
run_logs = sorted(Path(snakemake.params.run_logs).glob("*.jsonl"))
# Named "latest", the reports land exactly at this rule's outputs.
written = run_logs and write_reports(
    run_logs[-1], "latest", text.parent.parent, plots.parent, snakemake.params.price
)
if not written:
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text("No Lithops call has been logged: the outputs were made by other runs.\n")
    plots.mkdir(parents=True, exist_ok=True)
print(f"report of {run_logs[-1].name if run_logs else 'no run'}", file=sys.stderr)
