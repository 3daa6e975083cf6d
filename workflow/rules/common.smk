import functools
import logging
import math
import os
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.resources import Resources

from loaders.copdem import CELL_ID_PATTERN
from snakemake_executor_plugin_lithops.call_options import LoaderSpecs
from snakemake_executor_plugin_lithops.lithops_config import (
    lithops_backend,
    load_lithops_config,
)
from snakemake_storage_plugin_ard_s3 import tile_columns
from ttc_ard.destination import (
    DestinationError,
    check_bucket,
    check_writable,
    destination_root,
)
from ttc_ard.keys import ard_keys, key_patterns, record_keys, record_pattern
from ttc_ard.plan import (
    PlanLogHandler,
    ProductSettings,
    plan_file,
    usd,
    write_plan,
)
from ttc_ard.run_tiles import RunTilesError, load_run_tiles
from ttc_ard.settings import ConfigError, load_schema, validate_config
from ttc_ard.sources import (
    SourceError,
    aws_source_settings,
    check_requester_pays_credentials,
    check_stac_api,
    demo_source_settings,
)

CONFIG_SCHEMA = load_schema(workflow.source_path("../schemas/config.schema.yaml"))
try:
    validate_config(config, CONFIG_SCHEMA)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

try:
    DEST = destination_root(config["dest"])
    DEST_ON_S3 = DEST.startswith("s3://")
    if DEST_ON_S3:
        check_bucket(DEST, config["s3_endpoint_url"])
except DestinationError as err:
    raise WorkflowError(str(err)) from None


def call_memory_mb(product):
    """Memory of each call of a product in MB, as Snakemake gives it to the product's jobs and
    so to the lithops executor: the config default, which the rule declares as its mem_mb,
    replaced by --set-resources (mem_mb, mem_mib or mem: Snakemake turns each into mem_mb)
    and capped by --resources mem_mb, as Snakemake caps every job's. The plan's estimate
    needs it before any job exists."""
    memory = Resources.from_mapping({"mem_mb": config[f"{product}_memory_mb"]})
    memory.update(workflow.resource_settings.overwrite_resources.get(product, {}))
    if memory["mem_mb"].is_evaluable():
        raise WorkflowError(
            f"--set-resources gives {product}:mem_mb as an expression; the cost estimate "
            f"needs one number for every {product} call. Pass a number of MB, e.g. "
            f"--set-resources {product}:mem_mb=3072."
        )
    memory_mb = (
        memory["mem_mb"].constrain(workflow.global_resources.get("mem_mb")).value
    )
    limits = CONFIG_SCHEMA["properties"][f"{product}_memory_mb"]
    if not limits["minimum"] <= memory_mb <= limits["maximum"]:
        raise WorkflowError(
            f"--set-resources or --resources give {product} calls {memory_mb} MB of memory; "
            f"Lambda allows {limits['minimum']} to {limits['maximum']} MB. Pass a value in "
            "that range."
        )
    return memory_mb


BACKENDS = {}
for product in config["products"]:
    region = config[f"{product}_region"]
    if region not in config["lithops_config"]:
        raise WorkflowError(
            f"{product}_region = {region!r} has no Lithops config: lithops_config names only "
            f"{', '.join(config['lithops_config'])}. Add {region} to lithops_config or pick "
            "one of those regions."
        )
    # Read now, so that a missing file or variable stops the run before any job starts.
    lithops_file = config["lithops_config"][region]
    backend = lithops_backend(load_lithops_config(lithops_file))
    BACKENDS[product] = backend
    if backend != "localhost" and not DEST_ON_S3:
        raise WorkflowError(
            f"The Lithops config {lithops_file} runs the {product} calls on {backend}, whose "
            f"workers cannot write to this machine, but dest = {config['dest']!r} is a local "
            "folder. Use the localhost Lithops config for local runs."
        )


def check_plan_size(run_tiles):
    """Refuse to plan more than max_plan_tiles tiles in one run (planning 10,000 takes 1.5
    minutes and 0.9 GB, and both grow with the tiles): the error names the batches to run
    instead."""
    most = config["max_plan_tiles"]
    tiles = len(run_tiles.centres)
    if tiles <= most:
        return
    needed = math.ceil(run_tiles.request_tiles / most)
    raise WorkflowError(
        f"This run has {tiles} tiles to plan, more than max_plan_tiles={most}: one plan of "
        f"that size takes too long and too much memory. Run the request in {needed} "
        f"batches, one after the other: snakemake --config batch=i/{needed} for i = 1, 2 "
        f"... {needed}. Each batch plans, checks its budget, runs and writes its reports on "
        "its own. Or raise max_plan_tiles (--config max_plan_tiles=N)."
    )


try:
    RUN_TILES = load_run_tiles(
        config["request"],
        config["tiledb"],
        config["batch"],
        config["products"],
        time.gmtime().tm_year,
    )
except RunTilesError as err:
    raise WorkflowError(str(err)) from None
logger.info(RUN_TILES.summary)
check_plan_size(RUN_TILES)

# (year, x_tile, y_tile) -> tile centre (lon, lat) of this run's tiles: the rules' tile
# parameters.
TILE_CENTRES = RUN_TILES.centres


if DEST_ON_S3:

    # Snakemake checks which outputs exist through this provider, and never downloads them:
    # the workers write them, and no rule here reads them. It lists the run's tile columns
    # only: a batch's strip of a year folder that may hold many more tiles.
    storage dest:
        provider="ard-s3",
        retrieve=False,
        endpoint_url=config["s3_endpoint_url"] or None,
        tile_columns=tile_columns(TILE_CENTRES),


# Prints the plan when Snakemake logs its job counts, in dry and real runs; onstart checks it.
PLAN = PlanLogHandler(
    tiles=len(TILE_CENTRES),
    request_summary=RUN_TILES.summary,
    products=[
        ProductSettings(
            product=product,
            region=config[f"{product}_region"],
            backend=BACKENDS[product],
            memory_mb=call_memory_mb(product),
            files_per_tile=len(key_patterns(product)),
            default_seconds=config[f"{product}_expected_seconds"],
        )
        for product in config["products"]
    ],
    run_log_dir=Path(config["report_dir"]) / "run_logs",
    price_per_gb_second=config["lambda_price_per_gb_second"],
    budget_usd=config["budget_usd"],
)
logging.getLogger("snakemake.logging").addHandler(PLAN)
DEMO_ARCHIVE = config["demo_archive"].rstrip("/")
REPORT_DIR = config["report_dir"].rstrip("/")
PLOT_DIR = config["plot_dir"].rstrip("/")


wildcard_constraints:
    year=r"\d{4}",
    x_tile=r"\d+",
    y_tile=r"\d+",
    cell=CELL_ID_PATTERN,
    collection="sentinel-1-grd|sentinel-2-l2a",
    generator=r"\d+",


#: Executors that leave a tile's existing outputs alone before its job: lithops (Snakemake
#: removes nothing before a remote job) and touch (which only marks outputs as up to date).
#: Snakemake's local executor deletes them, so a failed forced re-run would lose correct files.
SAFE_EXECUTORS = ("lithops", "touch")


def check_executor():
    """Stop a real run whose tile jobs could delete correct outputs, before any job starts."""
    executor = workflow.executor_plugin.name
    if executor not in SAFE_EXECUTORS:
        raise WorkflowError(
            f"The {executor} executor cannot run this workflow: it deletes a tile's existing "
            "outputs before the tile's job runs, so a forced re-run that fails would lose "
            "correct files. Run with the lithops executor, which runs the tile jobs on this "
            "machine through Lithops' localhost backend unless the config says otherwise: "
            "drop --executor (the default profile selects lithops) or pass --executor lithops."
        )
    if not workflow.execution_settings.keep_incomplete:
        raise WorkflowError(
            "Snakemake was started without --keep-incomplete, so it would delete the outputs "
            "of a failed tile job, which for a forced re-run are the previous, correct files "
            "(each output is written whole; a product whose record is missing is redone "
            "anyway). Run with --keep-incomplete: profiles/default sets it, so keep it in a "
            "profile of your own and do not pass --workflow-profile none without it."
        )


def outside_lithops(rule):
    """The body of a tile rule, which only the lithops executor runs: it calls
    loaders.jobs.run_job in its workers with the rule's ``loader`` params instead. Reaching
    this body means check_executor was bypassed, so the job stops here, naming the fix.
    """
    raise WorkflowError(
        f"Rule {rule} ran outside the lithops executor, the only one that keeps a tile's "
        "previous outputs until its new ones are complete. Run with --executor lithops (the "
        "default profile's); see README, 'Interruptions, failures and re-runs'."
    )


def check_tiles():
    """Stop a real run that would build a tile outside this run's tiles (a file asked for by
    name), before any job starts: its job spec could not be made."""
    for job in workflow.dag.needrun_jobs():
        if job.rule.name in config["products"]:
            tile_of(job.wildcards)


def check_budget():
    """Stop a real run whose estimated cost exceeds the budget, before any job starts;
    otherwise hand the plan to the lithops executor, for the estimate in its report."""
    if PLAN.plan is None:
        raise WorkflowError(
            "No plan was made (Snakemake logged no job counts), so the cost cannot be checked."
        )
    if PLAN.plan.over_budget:
        raise WorkflowError(
            f"Estimated cost ${usd(PLAN.plan.cost_usd)} exceeds the budget "
            f"${usd(config['budget_usd'])}, so nothing was submitted. Check the plan above "
            f"(snakemake -n prints it again); to go ahead, raise the budget, e.g. "
            f"--config budget_usd={math.ceil(PLAN.plan.cost_usd * 1.2 + 1)}."
        )
    write_plan(PLAN.plan, plan_file(workflow.persistence.aux_path))


def check_destination():
    """Stop a real run whose destination cannot be written, before any job starts."""
    try:
        check_writable(DEST, config["s3_endpoint_url"])
    except DestinationError as err:
        raise WorkflowError(str(err)) from None


def check_sources():
    """Stop a real run whose STAC API does not answer, or whose Sentinel-1 reads on this
    machine could not be signed, before any job starts."""
    if config["source"] != "earth-search":
        return
    products = set(config["products"])
    try:
        if {"s1", "s2"} & products:
            check_stac_api(config["stac_url"])
        if "s1" in products and BACKENDS["s1"] == "localhost":
            check_requester_pays_credentials()
    except SourceError as err:
        raise WorkflowError(str(err)) from None


def in_destination(key):
    """``key`` under the destination root as Snakemake must see it: an S3 object through the
    storage provider, a local file as it is."""
    path = f"{DEST}/{key}"
    return storage.dest(path) if DEST_ON_S3 else path


def destination_path(key):
    """Where a worker writes ``key``: its S3 URL, or its absolute local path."""
    return f"{DEST}/{key}" if DEST_ON_S3 else os.path.abspath(f"{DEST}/{key}")


def get_ard_targets():
    """Every ARD file of every tile of this run, and the record of each of its products (written
    last: a product whose record is missing is not done, whatever files it has)."""
    return destination_targets(ard_keys, record_keys)


def get_record_targets():
    """The record of every product of every tile of this run: a job writes its record after its
    files, so a rule that needs every record runs after every tile job, without asking for
    each file again (the files are four times as many targets to plan)."""
    return destination_targets(record_keys)


def destination_targets(*tile_keys):
    """The keys that each of ``tile_keys`` gives for every tile of this run, tile by tile, as
    Snakemake sees them under the destination."""
    return [
        in_destination(key)
        for year, x_tile, y_tile in TILE_CENTRES
        for keys in tile_keys
        for key in keys(year, x_tile, y_tile, config["products"])
    ]


def final_output(wildcards):
    """Input function of the default target: the ARD files, the request's tiles CSV and the
    latest run's report."""
    return get_ard_targets() + [config["tiles_csv"], f"{REPORT_DIR}/latest/report.txt"]


def ard_outputs(product):
    """Named output patterns of a product's rule, under the destination root: the contract
    files and the product's record (``qa``)."""
    patterns = key_patterns(product) | {"qa": record_pattern(product)}
    return {name: in_destination(pattern) for name, pattern in patterns.items()}


def tile_of(wildcards):
    """The tile's fields as the loaders take them, looked up in the request's tile table."""
    key = (int(wildcards.year), int(wildcards.x_tile), int(wildcards.y_tile))
    if key not in TILE_CENTRES:
        raise WorkflowError(
            f"Tile {key[1]}X{key[2]}Y of {key[0]} is not among this run's tiles (the request "
            f"{config['request']}, batch {config['batch'] or 'all'}); only those can be built. "
            "Add it to the request's missing_tiles, or run the batch that holds it."
        )
    lon, lat = TILE_CENTRES[key]
    return {"year": key[0], "x_tile": key[1], "y_tile": key[2], "lon": lon, "lat": lat}


def loader_specs(product):
    """A product rule's ``loader`` param: the lithops executor makes each job's spec with it
    when it starts the job."""
    return LoaderSpecs(functools.partial(loader_spec, product))


def loader_spec(product, wildcards):
    """The job spec a worker runs (loaders.jobs.run_job): plain data, absolute paths or S3
    URLs."""
    spec = {
        "product": product,
        "tile": tile_of(wildcards),
        "outputs": {
            name: destination_path(pattern.format(**wildcards))
            for name, pattern in key_patterns(product).items()
        },
        "qa": destination_path(record_pattern(product).format(**wildcards)),
    }
    if DEST_ON_S3 and config["s3_endpoint_url"]:
        spec["s3_endpoint_url"] = config["s3_endpoint_url"]
    return spec | source_settings(product)


@functools.cache
def source_settings(product):
    """Where a product's loader reads its sources, for the configured source: one dict that
    every job spec of the product shares."""
    if config["source"] == "demo":
        return demo_source_settings(product, os.path.abspath(DEMO_ARCHIVE))
    return aws_source_settings(
        product, config["stac_url"], config["source_s3_endpoint_url"], config["geoid"]
    )


def lithops_options(product):
    """Where and how often the lithops executor runs a product's calls (their memory is the
    rule's resources: mem_mb)."""
    region = config[f"{product}_region"]
    return {
        "region": region,
        "config": config["lithops_config"][region],
        "retries": config["retries"],
    }


def demo_inputs(**input_functions):
    """A tile rule's named input functions, for the demo source only: they name the demo
    archive's files the loader reads, so that Snakemake generates them first. Other sources
    have no inputs, and no function called per job (each costs planning time)."""
    return input_functions if config["source"] == "demo" else {}


def demo_dem_cells(wildcards):
    """The demo archive's DEM cells a tile reads."""
    # Imported here: they load GDAL and PROJ, which a plan of real sources need not hold.
    from loaders.dem_source import tile_cells
    from loaders.grid import tile_grid
    from loaders.tiles import Tile

    grid = tile_grid(Tile(**tile_of(wildcards)))
    return [
        f"{DEMO_ARCHIVE}/copernicus-dem-30m/{cell}/{cell}.tif"
        for cell in tile_cells(grid)
    ]


def demo_scenes_marker(collection):
    """Input function: the marker saying the demo archive holds a tile's scenes of
    ``collection``. It names the generator's version: an archive made by an older one is
    brought up to date, and the tiles read from it are made again."""

    def marker(wildcards):
        return (
            f"{DEMO_ARCHIVE}/demo-coverage/{collection}/{wildcards.year}/"
            f"tiles-v{demo_generator(collection)}/"
            f"{wildcards.x_tile}X{wildcards.y_tile}Y.json"
        )

    return marker


def demo_generator(collection):
    """The version of the demo generator of ``collection``; imported only for the demo
    source, as the generators take a second and 50 MB to import."""
    from demo_archive import s1, s2

    versions = {
        "sentinel-1-grd": s1.GENERATOR_VERSION,
        "sentinel-2-l2a": s2.GENERATOR_VERSION,
    }
    return versions[collection]


def year_tile_centres(wildcards):
    """Centres (lon, lat) of every tile of the year in this run: the first demo archive job of
    a year generates the scenes of all of them at once."""
    return sorted(
        centre
        for (year, _, _), centre in TILE_CENTRES.items()
        if year == int(wildcards.year)
    )
