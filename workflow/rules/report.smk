# The final rule: once every output exists, the latest run's report and plots, for
# `snakemake --report`. The executor writes each run's own reports whatever its outcome.


rule run_report:
    input:
        lambda wildcards: get_record_targets(),
    output:
        text=report(
            f"{REPORT_DIR}/latest/report.txt",
            caption="../report/run_report.rst",
            category="Runs",
        ),
        plots=report(
            directory(f"{PLOT_DIR}/latest"),
            patterns=["{name}.png"],
            caption="../report/run_plots.rst",
            category="Runs",
        ),
    log:
        "logs/run_report.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        run_logs=f"{REPORT_DIR}/run_logs",
        price=config["lambda_price_per_gb_second"],
    script:
        "../scripts/run_report.py"
