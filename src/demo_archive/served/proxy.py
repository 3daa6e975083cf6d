"""A loopback HTTP proxy that makes a local server answer like a distant one: a first-byte delay
per request, a bandwidth cap on response bodies, seeded faults (S3's ``503 SlowDown`` and reset
connections), S3's requester-pays refusal, and a log of every request it forwarded.

Each client connection is served by its own thread, which keeps one keep-alive connection to
the upstream server; the client may keep its connection alive too (HTTP/1.1). Request bodies
must carry a ``Content-Length`` (GDAL's and boto3's reads do).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

#: Headers that describe one hop's connection, not the message: never forwarded.
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Response bodies are forwarded in pieces of at most this many bytes.
CHUNK_BYTES = 64 * 1024
#: Under a bandwidth cap, pieces are sized to this many seconds of sending, so that the pace
#: is even at low caps too.
PACING_STEP_S = 0.02

SLOWDOWN_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


@dataclass(frozen=True)
class Faults:
    """Shares of GET requests answered with a fault, drawn from a generator seeded with
    ``seed``: the same requests in the same order get the same faults."""

    slowdown_share: float = 0.0
    """Answered with S3's ``503 SlowDown``."""
    reset_share: float = 0.0
    """Whose connection is reset without an answer."""
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.slowdown_share, self.reset_share) < 0 or (
            self.slowdown_share + self.reset_share > 1
        ):
            raise ValueError(f"Fault shares must be >= 0 and add up to at most 1: {self}")


#: Every request answered.
NO_FAULTS = Faults()


@dataclass(frozen=True)
class ProxySettings:
    """How the proxy degrades what it forwards."""

    latency_s: float = 0.0
    """No answer's first byte leaves sooner than this after its request arrived."""
    bandwidth_bytes_per_s: float | None = None
    """Cap on the pace of each response body, per connection; None for no cap."""
    faults: Faults = NO_FAULTS
    requester_pays_buckets: frozenset[str] = frozenset()
    """Buckets whose requests must be signed and carry ``x-amz-request-payer: requester``."""


@dataclass(frozen=True)
class RequestRecord:
    """One request the proxy answered (or reset)."""

    started: float
    """When it arrived, in seconds since the epoch."""
    method: str
    bucket: str
    """The first segment of the path (for an S3 upstream, path-style, the bucket)."""
    key: str
    """The rest of the path, unquoted."""
    range: str | None
    """The request's ``Range`` header."""
    status: int | None
    """None for a reset connection."""
    body_bytes: int
    """Bytes of the response body sent."""
    first_byte_s: float | None
    """Seconds from arrival to the first byte of the answer; None for a reset connection."""
    total_s: float
    """Seconds from arrival to the last byte of the answer (or the reset)."""
    fault: str | None = None
    """``slowdown``, ``reset``, ``access-denied`` or None."""


class RequestLog:
    """The proxy's records, in memory and, if ``path`` is given, appended to it as JSON lines."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            if self.path is not None:
                with self.path.open("a") as file:
                    file.write(json.dumps(asdict(record)) + "\n")

    def records(self) -> list[RequestRecord]:
        """A copy of the records so far, in the order the answers ended."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget the records kept in memory (the file keeps its lines)."""
        with self._lock:
            self._records.clear()

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records())

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


class FaultDraw:
    """The seeded sequence of fault decisions, one per GET request."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()

    def next(self) -> str | None:
        """``slowdown``, ``reset`` or None for the next GET request."""
        with self._lock:
            draw = self._random.random()
        if draw < self.faults.reset_share:
            return "reset"
        if draw < self.faults.reset_share + self.faults.slowdown_share:
            return "slowdown"
        return None


class LatencyProxy:
    """The proxy on ``127.0.0.1`` at a free port (or ``port``), forwarding to ``upstream_url``
    (``http://host:port``) in a thread of this process until :meth:`stop`."""

    def __init__(
        self,
        upstream_url: str,
        settings: ProxySettings = ProxySettings(),
        log: RequestLog | None = None,
        port: int = 0,
    ) -> None:
        upstream = urlsplit(upstream_url)
        self.upstream_address = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.log = log if log is not None else RequestLog()
        self._settings = settings
        self._fault_draw = FaultDraw(settings.faults)
        self._answers_in_progress = 0
        self._idle = threading.Condition()
        self._server = ProxyServer(("127.0.0.1", port), ProxyRequestHandler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def settings(self) -> ProxySettings:
        return self._settings

    def configure(self, **changes) -> ProxySettings:
        """Change settings (the fields of :class:`ProxySettings`) for the requests that arrive
        from now on; new faults restart their seeded sequence."""
        self._settings = replace(self._settings, **changes)
        if "faults" in changes:
            self._fault_draw = FaultDraw(self._settings.faults)
        return self._settings

    def draw_fault(self) -> str | None:
        return self._fault_draw.next()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Count the block as an answer in progress (its record not yet logged)."""
        with self._idle:
            self._answers_in_progress += 1
        try:
            yield
        finally:
            with self._idle:
                self._answers_in_progress -= 1
                self._idle.notify_all()

    def settled_records(self, timeout_s: float = 1.0) -> list[RequestRecord]:
        """The log's records once no answer is in progress (or after ``timeout_s``): a client
        has the last byte of its answer a moment before the proxy logs it."""
        with self._idle:
            self._idle.wait_for(lambda: self._answers_in_progress == 0, timeout_s)
        return self.log.records()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class ProxyServer(ThreadingHTTPServer):
    """The listening socket, one thread per client connection."""

    # Connection threads must not keep the process alive after a Ctrl-C.
    daemon_threads = True
    proxy: LatencyProxy

    def handle_error(self, request, client_address) -> None:
        """Quiet about clients that went away mid-answer (GDAL drops connections it no longer
        needs); loud about anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ProxyRequestHandler(BaseHTTPRequestHandler):
    """Serves one client connection: each request is forwarded, delayed and paced."""

    protocol_version = "HTTP/1.1"
    # An answer leaves in two writes (head, then body): with Nagle's algorithm the second waits
    # for the client's delayed ACK of the first, 40 ms on Linux, on every request of a kept
    # connection (GDAL keeps its connections), which would swamp the latency set on purpose.
    disable_nagle_algorithm = True
    server: ProxyServer
    upstream: http.client.HTTPConnection | None = None
    body_sent = 0
    """Bytes of the current answer's body sent so far."""

    def do_GET(self) -> None:
        with self.server.proxy.answering():
            self.forward()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def log_message(self, format: str, *args) -> None:
        """Silent: the request log says what happened."""

    def finish(self) -> None:
        super().finish()
        self.drop_upstream()

    def drop_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def forward(self) -> None:
        """Answer one request as the settings say, and log it."""
        started_wall, started = time.time(), time.perf_counter()
        proxy = self.server.proxy
        settings = proxy.settings
        path = urlsplit(self.path)
        bucket, _, key = unquote(path.path).lstrip("/").partition("/")
        record = RequestRecord(
            started=started_wall,
            method=self.command,
            bucket=bucket,
            key=key,
            range=self.headers.get("Range"),
            status=None,
            body_bytes=0,
            first_byte_s=None,
            total_s=0.0,
        )
        body = self.read_request_body()
        fault = None
        if body is None:
            status, headers, chunks = 411, {}, iter(())
        elif bucket in settings.requester_pays_buckets and not pays_requests(
            self.headers, path.query
        ):
            fault = "access-denied"
            status, headers, chunks = access_denied(self.command == "HEAD")
        else:
            fault = proxy.draw_fault() if self.command == "GET" else None
            if fault == "reset":
                self.wait_until(started + settings.latency_s)
                self.reset_connection()
                proxy.log.append(
                    replace(record, fault=fault, total_s=time.perf_counter() - started)
                )
                return
            if fault == "slowdown":
                status, headers, chunks = slowdown()
            else:
                status, headers, chunks = self.ask_upstream(body)
        self.wait_until(started + settings.latency_s)
        record = replace(
            record, status=status, first_byte_s=time.perf_counter() - started, fault=fault
        )
        self.body_sent = 0
        try:
            self.answer(status, headers, chunks, settings.bandwidth_bytes_per_s)
        finally:
            # Logged also when the client went away mid-answer, with the bytes it got.
            total = time.perf_counter() - started
            proxy.log.append(replace(record, body_bytes=self.body_sent, total_s=total))

    def read_request_body(self) -> bytes | None:
        """The request's body; None if it comes without a length (chunked), which the proxy
        does not forward."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return None
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def ask_upstream(self, body: bytes) -> tuple[int, dict[str, str], Iterator[bytes]]:
        """The upstream's answer: status, headers (less hop-by-hop ones) and body pieces.
        A kept-alive upstream connection that turns out closed is opened again, once."""
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP_HEADERS
        }
        for attempt in (1, 2):
            reused = self.upstream is not None
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*self.server.proxy.upstream_address)
            try:
                self.upstream.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in headers.items():
                    self.upstream.putheader(name, value)
                if body and "content-length" not in (name.lower() for name in headers):
                    self.upstream.putheader("Content-Length", str(len(body)))
                self.upstream.endheaders(body or None)
                response = self.upstream.getresponse()
                break
            except (ConnectionError, http.client.HTTPException):
                self.drop_upstream()
                if not reused or attempt == 2:
                    raise
        answer_headers = {
            name: value
            for name, value in response.getheaders()
            if name.lower() not in HOP_BY_HOP_HEADERS
        }
        if response.getheader("Content-Length") is None and self.command != "HEAD":
            # A chunked upstream answer is passed on with its length, so that the client's
            # connection can stay alive.
            content = response.read()
            answer_headers["Content-Length"] = str(len(content))
            return response.status, answer_headers, iter((content,))
        return response.status, answer_headers, _pieces(response)

    def answer(
        self,
        status: int,
        headers: dict[str, str],
        chunks: Iterator[bytes],
        bandwidth_bytes_per_s: float | None,
    ) -> None:
        """Send the answer, its body paced to ``bandwidth_bytes_per_s``, counting the body's
        bytes in ``body_sent``."""
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "content-length" not in (name.lower() for name in headers):
            self.send_header("Content-Length", "0")
        self.end_headers()
        body_started = time.perf_counter()
        try:
            for chunk in chunks:
                for piece in _paced_pieces(chunk, bandwidth_bytes_per_s):
                    self.wfile.write(piece)
                    self.body_sent += len(piece)
                    if bandwidth_bytes_per_s:
                        self.wait_until(body_started + self.body_sent / bandwidth_bytes_per_s)
        except ConnectionError:
            # The upstream answer is left half read: neither connection can be reused.
            self.close_connection = True
            self.drop_upstream()
            raise

    def reset_connection(self) -> None:
        """Close the client's connection with a TCP reset, before any byte of an answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    @staticmethod
    def wait_until(moment: float) -> None:
        delay = moment - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def pays_requests(headers, query: str) -> bool:
    """Whether an S3 request may read a requester-pays bucket: signed (an ``Authorization``
    header or a presigned URL's ``X-Amz-Signature``) and accepting the charge
    (``x-amz-request-payer: requester``, as a header or in a presigned URL)."""
    parameters = {name.lower(): values for name, values in parse_qs(query).items()}
    signed = "Authorization" in headers or "x-amz-signature" in parameters
    payer = headers.get("x-amz-request-payer") or next(
        iter(parameters.get("x-amz-request-payer", [])), None
    )
    return signed and payer == "requester"


def access_denied(head: bool) -> tuple[int, dict[str, str], Iterator[bytes]]:
    """S3's refusal of a request to a requester-pays bucket that does not pay (a HEAD gets
    no body, as from S3)."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    ).encode()
    headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    if head:
        return 403, headers, iter(())
    return 403, headers | {"Content-Length": str(len(body))}, iter((body,))


def slowdown() -> tuple[int, dict[str, str], Iterator[bytes]]:
    """S3's answer to a client it throttles."""
    headers = {"Content-Type": "application/xml", "Content-Length": str(len(SLOWDOWN_XML))}
    return 503, headers, iter((SLOWDOWN_XML,))


def _pieces(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while chunk := response.read(CHUNK_BYTES):
        yield chunk


def _paced_pieces(chunk: bytes, bandwidth_bytes_per_s: float | None) -> Iterator[bytes]:
    """``chunk`` in pieces of :data:`PACING_STEP_S` seconds of sending under the cap."""
    if not bandwidth_bytes_per_s:
        yield chunk
        return
    step = max(1, int(bandwidth_bytes_per_s * PACING_STEP_S))
    for start in range(0, len(chunk), step):
        yield chunk[start : start + step]
