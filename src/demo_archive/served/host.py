"""The process that serves a demo archive: moto's S3 and the proxies in its threads, rustac in
a subprocess of its own, commands from the parent through two pipes.

The servers cannot share a process with GDAL: rasterio holds the GIL while GDAL opens a
remote file, so threads of the same process never answer GDAL's requests (a deadlock). The
host is a plain subprocess running :data:`HOST_PROGRAM`, not a multiprocessing one, so that
callers' scripts need no ``__main__`` guard.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from demo_archive.served.items import write_item_collections
from demo_archive.served.proxy import LatencyProxy, ProxySettings, RequestLog
from demo_archive.served.publish import MotoS3, publish
from demo_archive.served.stac_api import RustacServer, free_port

#: The host's program (``python -c HOST_PROGRAM COMMANDS_FD ANSWERS_FD``): imported, not run
#: as ``__main__``, so that what it sends unpickles as this module's classes.
HOST_PROGRAM = "from demo_archive.served.host import main; main()"


@dataclass(frozen=True)
class Endpoints:
    """Where the host serves, as it reports when ready."""

    s3_endpoint_url: str
    """The proxy in front of moto, which S3 clients talk to."""
    stac_url: str
    """The proxy in front of the STAC API server (the same latency, no bandwidth cap nor
    faults)."""
    moto_endpoint_url: str
    """moto itself, for reads and writes that should be neither delayed nor logged."""
    object_count: int
    """Objects published."""


@dataclass
class Servers:
    """The running servers of one archive."""

    endpoints: Endpoints
    s3_proxy: LatencyProxy
    stac_proxy: LatencyProxy


@contextlib.contextmanager
def running_servers(
    archive: Path, settings: ProxySettings, log_path: Path | None
) -> Iterator[Servers]:
    """Publish ``archive`` and serve it until the block ends (servers stop in reverse)."""
    with contextlib.ExitStack() as stack:
        moto = MotoS3()
        stack.callback(moto.stop)
        object_count = publish(archive, moto.endpoint_url)
        s3_proxy = LatencyProxy(moto.endpoint_url, settings, RequestLog(log_path))
        stack.callback(s3_proxy.stop)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="served-stac-")))
        item_files = write_item_collections(archive, folder)
        # The STAC proxy must exist before rustac starts: rustac writes its address in links.
        stac_port = free_port()
        stac_proxy = LatencyProxy(
            f"http://127.0.0.1:{stac_port}", ProxySettings(latency_s=settings.latency_s)
        )
        stack.callback(stac_proxy.stop)
        stac_server = RustacServer(item_files, folder / "rustac.log", stac_port, stac_proxy.url)
        stack.callback(stac_server.stop)
        endpoints = Endpoints(s3_proxy.url, stac_proxy.url, moto.endpoint_url, object_count)
        yield Servers(endpoints, s3_proxy, stac_proxy)


def main() -> None:
    """The host process's body, given the pipes' file descriptors as arguments (commands,
    answers): read ``(archive, settings, log_path)``, serve, report
    ``("ready", Endpoints)`` (or ``("error", exception)``), then answer commands until
    ``("stop",)`` or the parent's end of the pipe closes, and stop the servers."""
    # Ctrl-C reaches the whole process group; the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    commands = Connection(int(sys.argv[1]), writable=False)
    answers = Connection(int(sys.argv[2]), readable=False)
    archive, settings, log_path = commands.recv()
    try:
        with running_servers(archive, settings, log_path) as servers:
            answers.send(("ready", servers.endpoints))
            answer_commands(servers, commands, answers)
    except Exception as err:  # reported to the parent, which raises it
        answers.send(("error", err))


def answer_commands(servers: Servers, commands: Connection, answers: Connection) -> None:
    """Answer ``(command, *arguments)`` messages with ``("ok", value)`` or ``("error",
    exception)`` until ``("stop",)``."""
    proxies = {"s3": servers.s3_proxy, "stac": servers.stac_proxy}
    while True:
        try:
            command, *arguments = commands.recv()
        except EOFError:  # the parent is gone
            return
        if command == "stop":
            return
        try:
            if command == "records":
                value = proxies[arguments[0]].settled_records()
            elif command == "clear":
                value = proxies[arguments[0]].log.clear()
            elif command == "configure":
                value = servers.s3_proxy.configure(**arguments[0])
            elif command == "cpu":
                value = time.process_time()
            else:
                raise ValueError(f"Unknown command {command!r}")
        except Exception as err:  # the parent's mistake, raised there
            answers.send(("error", err))
        else:
            answers.send(("ok", value))
