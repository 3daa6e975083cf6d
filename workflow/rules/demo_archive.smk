# The offline demo scene archive, generated deterministically on first use and then cached.


rule demo_dem_cell:
    output:
        cog=f"{DEMO_ARCHIVE}/copernicus-dem-30m/{{cell}}/{{cell}}.tif",
        item=f"{DEMO_ARCHIVE}/stac/cop-dem-glo-30/{{cell}}.json",
    log:
        "logs/demo_archive/{cell}.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/demo_dem_cell.py"
