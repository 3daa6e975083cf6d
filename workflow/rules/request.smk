rule tiles_csv:
    input:
        request=config["request"],
        tiledb=config["tiledb"],
    output:
        config["tiles_csv"],
    log:
        "logs/tiles_csv.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/tiles_csv.py"
