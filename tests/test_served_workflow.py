"""The AWS read path end to end, offline: the demo archive served like AWS on loopback (moto's
S3 behind a latency and fault proxy, its items in a real STAC API server), read by the workflow
with ``source=earth-search`` — the code path of real runs, only the endpoints differ.
"""

import hashlib
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_runner import (
    REPO,
    Workflow,
    call_attempts,
    dem_file,
    tile_numbers,
    write_request,
)

from demo_archive.served import Faults, serve_archive
from demo_archive.served.publish import put_object, s3_client
from loaders.copdem import cell_id
from loaders.dem import source_cells
from loaders.tiles import tile_bbox
from ttc_ard.keys import key_patterns, record_pattern
from ttc_ard.sources import aws_source_settings

pytestmark = pytest.mark.workflow

#: The demo request's four tiles (config/requests/demo.json).
DEMO_TILES = ["1655X1083Y", "1656X1083Y", "1655X1084Y", "1656X1084Y"]
DEMO_TILE_CENTRES = {"1655X1083Y": (-1.6944, 6.6389)}
ALL_PRODUCTS = "[dem, s1, s2]"


def payload_digests(dest) -> dict[str, str]:
    """SHA-256 of every HKL payload under ``dest``, by its key."""
    return {
        str(path.relative_to(dest)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(dest.rglob("*.hkl"))
    }


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory) -> Path:
    """This module's own demo archive, generated for the four demo tiles at once. Not the
    session's: the generator adds items over a tile already covered when it covers a neighbour
    later (README, "Known limits"), so another test's tiles would change a tile's scenes
    between the local run and the served one, or while the local run reads them."""
    return tmp_path_factory.mktemp("served_demo_archive")


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, demo_archive) -> Workflow:
    """The four demo tiles from the local archive files (and the archive generated for them)."""
    workdir = tmp_path_factory.mktemp("local_run")
    request = write_request(workdir / "request.json", {"2023": DEMO_TILES})
    workflow = Workflow(workdir, demo_archive, request)
    workflow.run(products=ALL_PRODUCTS)
    return workflow


@pytest.fixture(scope="module")
def served(local_run, demo_archive):
    """The archive of ``local_run`` served like AWS, with a few milliseconds of latency."""
    with serve_archive(demo_archive, latency_s=0.005) as served:
        yield served


def served_workflow(workdir, demo_archive, served, tiles) -> Workflow:
    """A workflow reading ``served`` as a real run reads AWS."""
    request = write_request(workdir / "request.json", {"2023": tiles})
    workflow = Workflow(workdir, demo_archive, request)
    workflow.config |= served.workflow_config()
    workflow.env |= served.credentials
    return workflow


def test_the_served_archive_gives_the_payloads_of_the_local_files(
    tmp_path, demo_archive, local_run, served
):
    workflow = served_workflow(tmp_path, demo_archive, served, DEMO_TILES)
    workflow.run(products=ALL_PRODUCTS)

    expected = payload_digests(local_run.workdir / "results/ard")
    assert len(expected) == 4 * 9  # every file of every product of the four tiles
    assert payload_digests(tmp_path / "results/ard") == expected
    # Read over the network, as on AWS: every bucket was read, and the run log counts it.
    assert {r.bucket for r in served.requests()} >= {
        "sentinel-cogs",
        "sentinel-s1-l1c",
        "copernicus-dem-30m",
    }
    reads = [a["result"]["reads"] for a in call_attempts(tmp_path) if a["status"] == "success"]
    assert len(reads) == 12 and all(r["requests"] > 0 and r["bytes"] > 0 for r in reads)


def test_throttling_and_resets_are_retried_and_the_tiles_complete(
    tmp_path, demo_archive, local_run, served
):
    tiles = DEMO_TILES[:1]
    served.configure(faults=Faults(slowdown_share=0.05, reset_share=0.02, seed=7))
    try:
        workflow = served_workflow(tmp_path, demo_archive, served, tiles)
        workflow.run(products=ALL_PRODUCTS)
    finally:
        served.configure(faults=Faults())
    faults = [r.fault for r in served.requests() if r.fault]
    assert "slowdown" in faults and "reset" in faults, faults
    expected = {
        key: digest
        for key, digest in payload_digests(local_run.workdir / "results/ard").items()
        if "/1655/1083/" in key
    }
    assert payload_digests(tmp_path / "results/ard") == expected


def test_a_missing_object_fails_its_tile_as_missing_data(tmp_path, demo_archive, served):
    tile = DEMO_TILES[0]
    lon, lat = DEMO_TILE_CENTRES[tile]
    (cell,) = [cell_id(*c) for c in source_cells(tile_bbox(lon, lat))]
    moto = s3_client(served.moto_endpoint_url)
    key = f"{cell}/{cell}.tif"
    body = moto.get_object(Bucket="copernicus-dem-30m", Key=key)["Body"].read()
    moto.delete_object(Bucket="copernicus-dem-30m", Key=key)
    try:
        workflow = served_workflow(tmp_path, demo_archive, served, [tile])
        result = workflow.run(check=False, products="[dem]")
    finally:
        put_object(moto, "copernicus-dem-30m", key, body)
    assert result.returncode != 0
    (attempt,) = call_attempts(tmp_path)
    assert (attempt["status"], attempt["reason"]) == ("failed", "missing_data")
    assert f"s3://copernicus-dem-30m/{key}" in attempt["error"]
    # The 404 read is on the bill too: the failed call's reads come back with its error.
    assert attempt["failed_reads"]["requests"] >= 1
    assert not dem_file(tmp_path / "results/ard", tile).exists()


def test_a_stac_api_that_is_down_stops_the_run_before_any_call(tmp_path, demo_archive, served):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    workflow = served_workflow(tmp_path, demo_archive, served, DEMO_TILES[:1])
    result = workflow.run(check=False, products="[s2]", stac_url=down)
    assert result.returncode != 0
    assert f"The STAC API {down} does not answer" in result.stderr
    assert "nothing was submitted" in result.stderr
    assert not (tmp_path / "results/ard").exists()
    assert not list((tmp_path / "results").rglob("*.jsonl"))


#: What AWS Lambda sets in a function's environment (Python container image runtime), less the
#: runtime API address the handler loop needs: a worker must read its sources with these alone.
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "eu-central-1",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_Image",
    "AWS_LAMBDA_FUNCTION_NAME": "lithops-worker-ttc-ard",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/lithops-worker-ttc-ard",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/03/[$LATEST]0123456789abcdef",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "LAMBDA_TASK_ROOT": "/function",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
}


def test_a_worker_with_only_the_lambda_environment_reads_the_served_archive(
    tmp_path, local_run, served
):
    tile = DEMO_TILES[0]
    specs = {
        product: lambda_spec(product, tile, tmp_path, served) for product in ("dem", "s1", "s2")
    }
    env = LAMBDA_ENVIRONMENT | role_credentials(served)
    run = (
        "import json, sys; from loaders.jobs import run_job; "
        "[run_job(spec) for spec in json.load(sys.stdin)]"
    )
    result = subprocess.run(
        [sys.executable, "-c", run],
        input=json.dumps(list(specs.values())),
        capture_output=True,
        text=True,
        env=env | {"PYTHONPATH": str(REPO / "src")},
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    expected = payload_digests(local_run.workdir / "results/ard")
    written = payload_digests(tmp_path / "ard")
    assert written and all(expected[key] == digest for key, digest in written.items())


def role_credentials(served) -> dict[str, str]:
    """Credentials as Lambda hands a function its role's: a key, a secret and a session token."""
    return {
        "AWS_ACCESS_KEY_ID": served.credentials["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": served.credentials["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": "ttc-ard-fake-session-token",
    }


def lambda_spec(product: str, tile: str, folder, served) -> dict:
    """The spec the workflow sends for ``product`` of ``tile`` when it reads ``served``, its
    outputs under ``folder/ard`` at their contract keys."""
    x_tile, y_tile = tile_numbers(tile)
    keys = {"year": 2023, "x_tile": x_tile, "y_tile": y_tile}
    lon, lat = DEMO_TILE_CENTRES[tile]
    return {
        "product": product,
        "tile": keys | {"lon": lon, "lat": lat},
        "outputs": {
            name: str(folder / "ard" / pattern.format(**keys))
            for name, pattern in key_patterns(product).items()
        },
        "qa": str(folder / "ard" / record_pattern(product).format(**keys)),
    } | aws_source_settings(product, served.stac_url, served.s3_endpoint_url, served.geoid_url)
