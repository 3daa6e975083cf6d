"""The STAC API check a real run makes before it submits anything."""

import json
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest
from loopback import LoopbackServer

from ttc_ard.sources import SourceError, check_requester_pays_credentials, check_stac_api


def serve(body: dict) -> LoopbackServer:
    """A loopback HTTP server answering every GET with ``body`` as JSON."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return LoopbackServer(Answer)


def test_a_stac_landing_page_passes():
    server = serve({"type": "Catalog", "id": "earth-search-aws", "links": []})
    try:
        check_stac_api(f"{server.url}/v1")
    finally:
        server.stop()


def test_a_page_that_is_no_stac_api_is_named():
    server = serve({"message": "hello"})
    url = f"{server.url}/v1"
    try:
        with pytest.raises(SourceError, match="not with a STAC API landing page") as err:
            check_stac_api(url)
    finally:
        server.stop()
    assert url in str(err.value) and "stac_url" in str(err.value)


def test_an_api_that_is_down_fails_within_seconds():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    started = time.monotonic()
    with pytest.raises(SourceError, match="does not answer") as err:
        check_stac_api(url, attempts=2)
    assert time.monotonic() - started < 10
    assert url in str(err.value) and "nothing was submitted" in str(err.value)


def test_no_aws_credentials_stop_a_run_reading_sentinel_1(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(SourceError, match="requester-pays bucket sentinel-s1-l1c") as err:
        check_requester_pays_credentials()
    assert "AWS_ACCESS_KEY_ID" in str(err.value) and "products=" in str(err.value)


def test_aws_credentials_in_the_environment_pass(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATTCARDTESTKEY000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ttc-ard-fake-secret")
    check_requester_pays_credentials()
