"""The demo archive served like AWS: its buckets in moto's S3 behind a latency proxy, its items
in a STAC API (rustac) behind another, everything on loopback in a host process of its own
(see :mod:`demo_archive.served.host` for why), for as long as a ``with`` block of
:func:`serve_archive` lasts.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import demo_archive
from demo_archive.geoid import GEOID_PATH
from demo_archive.served.host import HOST_PROGRAM, Endpoints
from demo_archive.served.items import STAC_FOLDER
from demo_archive.served.proxy import NO_FAULTS, Faults, ProxySettings, RequestRecord
from demo_archive.served.publish import BUCKETS, CREDENTIALS, REQUESTER_PAYS_BUCKETS
from demo_archive.served.stac_api import rustac_command

#: What generates the default demo archive, for the messages about a missing one.
GENERATE_HINT = (
    "Generate it first: `snakemake --cores 2` with the default config writes the demo "
    "archive to resources/demo_archive."
)
#: How long publishing and starting may take (a few thousand files, ~300 MB, on 2 cores).
STARTUP_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0


class ArchiveNotFound(FileNotFoundError):
    """The folder given is not a demo archive (missing, or none of its folders in it)."""


class HostError(RuntimeError):
    """The host process failed or went away."""


@dataclass
class ServedArchive:
    """A demo archive being served; valid inside its :func:`serve_archive` block."""

    archive: Path
    endpoints: Endpoints
    commands: Connection
    """The pipe of commands to the host process."""
    answers: Connection
    """The pipe of the host's answers."""
    credentials: dict[str, str] = field(default_factory=lambda: dict(CREDENTIALS))
    """Fake AWS credentials (as environment variables) that the served S3 accepts."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def s3_endpoint_url(self) -> str:
        """The S3 endpoint, behind the proxy: ``http://127.0.0.1:PORT``."""
        return self.endpoints.s3_endpoint_url

    @property
    def stac_url(self) -> str:
        """The STAC API, behind a proxy with the S3 proxy's latency at start."""
        return self.endpoints.stac_url

    @property
    def moto_endpoint_url(self) -> str:
        """moto itself: neither delayed nor logged."""
        return self.endpoints.moto_endpoint_url

    @property
    def object_count(self) -> int:
        return self.endpoints.object_count

    def requests(self) -> list[RequestRecord]:
        """The S3 proxy's request log so far, once the answers in progress are logged (for at
        most a second)."""
        return self.ask("records", "s3")

    def stac_requests(self) -> list[RequestRecord]:
        """The STAC proxy's request log so far (``bucket`` is the first segment of the API
        path)."""
        return self.ask("records", "stac")

    def clear_requests(self) -> None:
        """Forget the S3 proxy's records so far (a log file keeps its lines)."""
        self.ask("clear", "s3")

    def cpu_seconds(self) -> float:
        """CPU seconds the host process (moto's S3 server and the proxies) has used so far:
        what serving costs this machine, which a benchmark on few cores must tell apart from
        the reader's own time."""
        return self.ask("cpu")

    def configure(self, **changes: Any) -> ProxySettings:
        """Change the S3 proxy's ``latency_s``, ``bandwidth_bytes_per_s`` or ``faults`` for
        the requests that arrive from now on; the settings in force."""
        return self.ask("configure", changes)

    @property
    def geoid_url(self) -> str:
        """The demo geoid grid as a plain http URL through the S3 proxy, as real runs read
        PROJ's grid from its CDN over https."""
        return f"{self.s3_endpoint_url}/{GEOID_PATH}"

    def workflow_config(self) -> dict[str, str]:
        """The workflow config keys that point a run at this archive instead of AWS."""
        return {
            "source": "earth-search",
            "stac_url": self.stac_url,
            "source_s3_endpoint_url": self.s3_endpoint_url,
            "geoid": self.geoid_url,
        }

    def gdal_env(self, requester_pays: bool = True) -> dict[str, str]:
        """GDAL settings for ``/vsis3/`` reads of the served buckets (and, if
        ``requester_pays``, accepting the charge of ``sentinel-s1-l1c``). Not the
        credentials: rasterio takes those from the environment only (:attr:`credentials`)."""
        env = {
            "AWS_S3_ENDPOINT": urlsplit(self.s3_endpoint_url).netloc,
            "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE",
        }
        if requester_pays:
            env["AWS_REQUEST_PAYER"] = "requester"
        return env

    def ask(self, command: str, *arguments: Any) -> Any:
        """Send a command to the host process and return its answer (raising its error)."""
        with self._lock:
            self.commands.send((command, *arguments))
            try:
                outcome, value = self.answers.recv()
            except EOFError as err:
                raise HostError("The served archive's host process has gone away.") from err
        if outcome == "error":
            raise value
        return value


def check_archive(archive: Path) -> None:
    """Raise :class:`ArchiveNotFound` unless ``archive`` holds a bucket folder or items."""
    folders = (*BUCKETS, STAC_FOLDER)
    if not any((archive / folder).is_dir() for folder in folders):
        state = "does not exist" if not archive.exists() else "holds no demo archive"
        raise ArchiveNotFound(
            f"The demo archive folder {archive} {state}: a demo archive has the folders "
            f"{', '.join(folders)} (or some of them). {GENERATE_HINT} Then pass that folder."
        )


@contextlib.contextmanager
def serve_archive(
    archive: Path,
    *,
    latency_s: float = 0.0,
    bandwidth_bytes_per_s: float | None = None,
    faults: Faults = NO_FAULTS,
    log_path: Path | None = None,
) -> Iterator[ServedArchive]:
    """Publish ``archive`` and serve it until the block ends: the S3 proxy delays each answer's
    first byte by ``latency_s``, caps each connection's body pace at
    ``bandwidth_bytes_per_s`` and answers GETs with ``faults``; its request log is appended
    to ``log_path`` (JSON lines) too if given. The STAC API gets the same latency."""
    check_archive(archive)
    rustac_command()  # fail before the upload if the STAC server is missing
    settings = ProxySettings(
        latency_s=latency_s,
        bandwidth_bytes_per_s=bandwidth_bytes_per_s,
        faults=faults,
        requester_pays_buckets=REQUESTER_PAYS_BUCKETS,
    )
    with host_process() as (process, commands, answers):
        commands.send((archive.resolve(), settings, log_path and log_path.resolve()))
        endpoints = wait_until_ready(answers, process)
        yield ServedArchive(archive, endpoints, commands, answers)


@contextlib.contextmanager
def host_process() -> Iterator[tuple[subprocess.Popen, Connection, Connection]]:
    """The host process with the pipes of its commands and answers, stopped at the end of the
    block: asked first, ended if it does not exit."""
    commands_read, commands_write = os.pipe()
    answers_read, answers_write = os.pipe()
    # The host imports this package from where the parent did, installed or not.
    package_root = str(Path(demo_archive.__file__).resolve().parent.parent)
    python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-c", HOST_PROGRAM, str(commands_read), str(answers_write)],
        pass_fds=(commands_read, answers_write),
        env=os.environ | {"PYTHONPATH": python_path},
    )
    os.close(commands_read)
    os.close(answers_write)
    commands = Connection(commands_write, readable=False)
    answers = Connection(answers_read, writable=False)
    try:
        yield process, commands, answers
    finally:
        with contextlib.suppress(OSError):
            commands.send(("stop",))
        commands.close()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        answers.close()


def wait_until_ready(answers: Connection, process: subprocess.Popen) -> Endpoints:
    """The host's endpoints once it serves; its error, raised here, if it failed."""
    if not answers.poll(STARTUP_TIMEOUT_S):
        raise HostError(f"The served archive did not start within {STARTUP_TIMEOUT_S} s.")
    try:
        outcome, value = answers.recv()
    except EOFError as err:
        raise HostError(
            f"The served archive's host process exited (code {process.poll()}) before serving."
        ) from err
    if outcome == "error":
        raise value
    return value
