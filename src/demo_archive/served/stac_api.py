"""A STAC API server of the served items: ``rustac serve`` (rustac's in-memory backend) in a
subprocess on loopback.

rustac builds its links (``next`` pages among them) from the address it is told it serves
at, which may be a proxy's in front of it: ``public_url``; it listens at its own free port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: How long rustac may take to load the items and answer.
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
INSTALL_HINT = "pip install -e '.[served]'"


class StacServerError(RuntimeError):
    """The STAC API server is missing or did not start; the message says what to do."""


def rustac_command() -> str:
    """The ``rustac`` executable: beside this Python's (a venv's ``bin``), else on PATH."""
    beside = Path(sys.executable).with_name("rustac")
    found = str(beside) if beside.is_file() else shutil.which("rustac")
    if found is None:
        raise StacServerError(
            "rustac, the STAC API server of the served demo archive, is not installed: "
            f"install the served extra ({INSTALL_HINT}) and run again."
        )
    return found


def free_port() -> int:
    """A TCP port free on loopback now (another process could take it before it is used,
    which on a test machine does not happen in practice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RustacServer:
    """``rustac serve`` of ``item_files`` (newline-delimited JSON, collections created from
    the items), listening on loopback at ``port``, announcing ``public_url`` (default: its
    own), its output going to ``output_path``."""

    def __init__(
        self,
        item_files: list[Path],
        output_path: Path,
        port: int,
        public_url: str | None = None,
    ) -> None:
        self.output_path = output_path
        self.port = port
        self.local_url = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url or self.local_url
        with output_path.open("w") as output:
            # A file, not a pipe: a pipe nobody reads would stall a talkative server.
            self._process = subprocess.Popen(
                [
                    rustac_command(),
                    "serve",
                    *map(str, item_files),
                    "--addr",
                    self.public_url,
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--create-collections",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StacServerError(
                    f"rustac serve exited with code {self._process.returncode} before "
                    f"answering:\n{self.output_path.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.local_url}/", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise StacServerError(
            f"rustac serve did not answer at {self.local_url} within {STARTUP_TIMEOUT_S} s."
        )

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
