# ttc-ard: a tile request in, Analysis Ready Data for Tropical Tree Cover out.
# Every ARD file of every requested tile is a target; Snakemake skips the ones that exist.
from snakemake.utils import min_version

min_version("9.20")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/request.smk"
include: "workflow/rules/demo_archive.smk"
include: "workflow/rules/dem.smk"
include: "workflow/rules/s1.smk"
include: "workflow/rules/s2.smk"
include: "workflow/rules/report.smk"


onstart:
    check_executor()
    check_tiles()
    check_budget()
    check_sources()
    check_destination()


rule all:
    default_target: True
    input:
        final_output,
