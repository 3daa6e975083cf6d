"""The latest run's report and plots under fixed names, for `snakemake --report`."""

import shutil
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from ttc_ard.reports import write_reports

text, plots = Path(snakemake.output.text), Path(snakemake.output.plots)
# Run logs are named by run id, which starts with the UTC time: the last one is this run's.
run_logs = sorted(Path(snakemake.params.run_logs).glob("*.jsonl"))
folder = None
if run_logs:
    scratch = text.parent.parent / ".latest-report"
    shutil.rmtree(scratch, ignore_errors=True)
    folder = write_reports(
        run_logs[-1], "latest", scratch, scratch / "plots", snakemake.params.price
    )
if folder is None:
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text("No Lithops call has been logged: the outputs were made by other runs.\n")
    plots.mkdir(parents=True, exist_ok=True)
else:
    shutil.copyfile(folder / "report.txt", text)
    shutil.copytree(scratch / "plots" / "latest", plots)
    shutil.rmtree(scratch)
print(f"report of {run_logs[-1].name if run_logs else 'no run'}", file=sys.stderr)
