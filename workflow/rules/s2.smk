rule s2:
    input:
        **demo_inputs(
            scenes=demo_scenes_marker("sentinel-2-l2a"),
        ),
    output:
        **ard_outputs("s2"),
    log:
        "logs/s2/{year}/{x_tile}X{y_tile}Y.log",
    resources:
        mem_mb=config["s2_memory_mb"],
    params:
        loader=loader_specs("s2"),
        lithops=lithops_options("s2"),
    run:
        outside_lithops(rule)
