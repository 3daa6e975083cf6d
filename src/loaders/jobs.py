"""The one entry point of a tile job, whether a Lithops worker or a local Snakemake job runs it.

Every product's job has the same skeleton: the spec is checked and typed once
(:class:`~loaders.spec.TileJob`), the product's ``compute`` reads and computes inside one GDAL
environment, the arrays and the QA record are written as a unit
(:func:`~loaders.ard_io.write_tile`), and the run log gets one summary of one shape. A
product's job is the module ``loaders.<product>_job``, with ``OUTPUTS`` (its output names),
``GDAL_SETTINGS`` (its own over the shared ones) and ``compute(job) -> TileResult``.

Importing this module needs the base dependencies only: the workflow side imports it to hand
:func:`run_job` to Lithops, which pickles it by reference. The product jobs and rasterio are
imported when a job runs, in the worker.
"""

from __future__ import annotations

import importlib
import logging
import time

from loaders import accounting
from loaders.ard_io import write_tile
from loaders.reading import GDAL_READ_SETTINGS
from loaders.spec import SpecError, TileJob

#: Loggers that print every HTTP request with its headers at DEBUG, the AWS access key id
#: (in the signature) among them; Lithops's local runner logs everything at DEBUG to a file.
REQUEST_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


def run_job(spec: dict) -> dict:
    """Run the tile job ``spec`` describes: compute the product, write its files and record.

    ``spec`` is plain JSON-able data built by the workflow (see ``workflow/rules/common.smk``),
    so that it travels unchanged to a Lambda worker. Returns the summary the run log keeps:
    ``product``, wall ``seconds``, the ``shapes`` of the arrays written, the ``qa`` record's
    summary (:func:`loaders.qa.summary`) and what the source reads cost, ``reads``
    (:meth:`loaders.accounting.ReadAccount.summary`). An error of the computation leaves with
    the reads made until then, as its ``reads`` attribute.
    """
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    started = time.time()
    job = TileJob.from_spec(spec)
    product_job = importlib.import_module(f"loaders.{job.product}_job")
    check_outputs(job, product_job.OUTPUTS)
    import rasterio  # the worker image's: see the module's docstring

    settings = GDAL_READ_SETTINGS | product_job.GDAL_SETTINGS | job.source_gdal_env
    account = accounting.start()
    with rasterio.Env(**(settings | accounting.GDAL_STATS_SETTINGS)):
        gdal_counted = accounting.reset_gdal_counts()
        try:
            result = product_job.compute(job)
        except Exception as err:
            # A failed call's reads are paid for too: they travel with its error to the run log.
            err.reads = account.summary(accounting.gdal_traffic() if gdal_counted else None)
            raise
        gdal = accounting.gdal_traffic() if gdal_counted else None
    # Outside the settings, GDAL reads them anew and stops counting.
    accounting.reset_gdal_counts()
    write_tile(job.outputs, job.qa, result.record, result.arrays, job.s3_endpoint_url)
    return (
        {"product": job.product, "seconds": round(time.time() - started, 3)}
        | result.summary()
        | {"reads": account.summary(gdal)}
    )


def check_outputs(job: TileJob, names: tuple[str, ...]) -> None:
    """Refuse, before computing anything, a job whose outputs are not the product's."""
    if set(job.outputs) != set(names):
        raise SpecError(
            f"tile job spec of {job.product}: outputs {sorted(job.outputs)} are not the "
            f"product's {sorted(names)}"
        )
