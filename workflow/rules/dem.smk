rule dem:
    input:
        **demo_inputs(
            dem_cells=demo_dem_cells,
        ),
    output:
        **ard_outputs("dem"),
    log:
        "logs/dem/{year}/{x_tile}X{y_tile}Y.log",
    resources:
        mem_mb=config["dem_memory_mb"],
    params:
        loader=loader_specs("dem"),
        lithops=lithops_options("dem"),
    run:
        outside_lithops(rule)
