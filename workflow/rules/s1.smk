rule s1:
    input:
        **demo_inputs(
            dem_cells=demo_dem_cells,
            scenes=demo_scenes_marker("sentinel-1-grd"),
        ),
    output:
        **ard_outputs("s1"),
    log:
        "logs/s1/{year}/{x_tile}X{y_tile}Y.log",
    resources:
        mem_mb=config["s1_memory_mb"],
    params:
        loader=loader_specs("s1"),
        lithops=lithops_options("s1"),
    run:
        outside_lithops(rule)
