"""The body Snakemake requires of a tile rule. Only the lithops executor runs tile jobs, and it
calls loaders.jobs.run_job in its workers with the rule's ``loader`` params instead of this
script. The workflow's onstart check (common.smk, check_executor) refuses every other executor
before any job starts, because they delete a tile's outputs before its job runs; reaching this
script means that check was bypassed, so the job stops here, naming the fix."""

raise SystemExit(
    f"Rule {snakemake.rule} ran outside the lithops executor, the only one that keeps a tile's "
    "previous outputs until its new ones are complete. Run with --executor lithops (the default "
    "profile's); see README, 'Interruptions, failures and re-runs'."
)
