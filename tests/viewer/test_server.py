"""The viewer's same-origin server: static files, app routes, MIME types and the proxy."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.viewer.bundle import app_config
from node.viewer.server import ViewerServer, fix_query, start_viewer_server


def test_fix_query_decodes_commas_in_includefield_only() -> None:
    query = "limit=25&includefield=00081030%2C00080060&PatientName=a%2Cb"
    assert fix_query(query) == "limit=25&includefield=00081030,00080060&PatientName=a%2Cb"
    assert fix_query("IncludeField=a%2cb") == "IncludeField=a,b"


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Echoes the path and Host it was asked for, as Orthanc would see them."""

    def do_GET(self) -> None:
        body = f"{self.path} host={self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ViewerServer]:
    (tmp_path / "index.html").write_text("<html>app</html>")
    (tmp_path / "codec.wasm").write_bytes(b"\0asm")
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    server = start_viewer_server(dist=tmp_path, app_config=app_config(),
                                 upstream=f"http://127.0.0.1:{upstream.server_address[1]}")
    yield server
    server.shutdown()
    upstream.shutdown()


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers["Content-Type"], resp.read()


def test_static_routes_config_and_proxy(served: ViewerServer) -> None:
    assert _get(served.url + "/codec.wasm")[1] == "application/wasm"
    assert _get(served.url + "/viewer?StudyInstanceUIDs=1.2")[2] == b"<html>app</html>"
    _, ctype, config = _get(served.url + "/app-config.js")
    assert ctype == "application/javascript"
    assert b'"qidoRoot": "/dicom-web"' in config
    assert b"cloudfront" not in config
    _, _, echoed = _get(served.url + "/dicom-web/studies?includefield=a%2Cb")
    port = served.server_address[1]
    assert echoed.decode() == f"/dicom-web/studies?includefield=a,b host=127.0.0.1:{port}"
    with pytest.raises(urllib.error.HTTPError, match="404"):
        _get(served.url + "/missing.js")
    with pytest.raises(urllib.error.HTTPError, match="404"):
        _get(served.url + "/../../etc/passwd.js")
