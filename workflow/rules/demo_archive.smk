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


rule demo_scenes:
    output:
        f"{DEMO_ARCHIVE}/demo-coverage/{{collection}}/{{year}}/tiles-v{{generator}}/{{x_tile}}X{{y_tile}}Y.json",
    log:
        "logs/demo_archive/{collection}/{year}/v{generator}/{x_tile}X{y_tile}Y.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: workflow.cores
    params:
        tile=tile_of,
        year_centres=year_tile_centres,
        archive=lambda wildcards, output: output[0].split("/demo-coverage/")[0],
    script:
        "../scripts/demo_scenes.py"
