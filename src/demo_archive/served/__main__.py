"""``python -m demo_archive.served ARCHIVE``: serve a demo archive like AWS until Ctrl-C (or
SIGTERM), with a workflow config file pointing at it."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

import yaml

from demo_archive.served.archive import ArchiveNotFound, ServedArchive, serve_archive
from demo_archive.served.proxy import Faults
from demo_archive.served.stac_api import StacServerError

#: Exit status when the archive or the STAC server is missing.
EXIT_UNUSABLE = 2
BITS_PER_BYTE = 8


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo_archive.served",
        description=(
            "Serve a demo archive like AWS on loopback: its buckets in moto's S3 behind a "
            "latency proxy, its items in a STAC API (rustac), until Ctrl-C."
        ),
    )
    parser.add_argument("archive", type=Path, help="the demo archive folder")
    parser.add_argument(
        "--latency-ms", type=float, default=30.0, help="first-byte delay per S3 request"
    )
    parser.add_argument(
        "--bandwidth-mbit",
        type=float,
        default=None,
        help="cap on each S3 connection's response pace, in Mbit/s (default: none)",
    )
    parser.add_argument("--slowdown-share", type=float, default=0.0, help="GETs answered 503")
    parser.add_argument("--reset-share", type=float, default=0.0, help="GETs reset")
    parser.add_argument("--seed", type=int, default=0, help="seed of the faults")
    parser.add_argument(
        "--config-out",
        type=Path,
        default=Path("served_archive.yaml"),
        help="where to write the workflow config file (default: %(default)s)",
    )
    parser.add_argument(
        "--request-log", type=Path, default=None, help="append the S3 requests here (JSON lines)"
    )
    return parser.parse_args(argv)


def summary(served: ServedArchive, arguments: argparse.Namespace) -> str:
    """What runs where and how to point the workflow at it."""
    bandwidth = (
        f"{arguments.bandwidth_mbit:g} Mbit/s per connection"
        if arguments.bandwidth_mbit
        else "no bandwidth cap"
    )
    exports = "\n".join(
        f"  export {name}={shlex.quote(value)}" for name, value in served.credentials.items()
    )
    config = shlex.quote(str(arguments.config_out))
    return (
        f"Serving {served.archive} ({served.object_count} objects):\n"
        f"  S3 (moto behind a proxy: {arguments.latency_ms:g} ms first byte, {bandwidth}): "
        f"{served.s3_endpoint_url}\n"
        f"  STAC API (rustac): {served.stac_url}\n"
        f"Workflow config written to {arguments.config_out}. In another shell:\n"
        f"{exports}\n"
        f"  snakemake --cores 2 --configfile {config}\n"
        "Ctrl-C to stop."
    )


def wait_for_stop() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    stop.wait()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    bandwidth = arguments.bandwidth_mbit * 1e6 / BITS_PER_BYTE if arguments.bandwidth_mbit else None
    try:
        with serve_archive(
            arguments.archive,
            latency_s=arguments.latency_ms / 1000,
            bandwidth_bytes_per_s=bandwidth,
            faults=Faults(arguments.slowdown_share, arguments.reset_share, arguments.seed),
            log_path=arguments.request_log,
        ) as served:
            arguments.config_out.write_text(yaml.safe_dump(served.workflow_config()))
            print(summary(served, arguments), flush=True)
            wait_for_stop()
            print("Stopping.", flush=True)
    except (ArchiveNotFound, StacServerError) as err:
        print(err, file=sys.stderr)
        return EXIT_UNUSABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
