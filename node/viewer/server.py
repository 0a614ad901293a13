"""One loopback HTTP server for the OHIF bundle and Orthanc's DICOMweb, on the same origin.

Same origin means no CORS: the browser asks this server for the app and for
``/dicom-web/...`` and ``/wado...``, which are forwarded to Orthanc. Two fixes live here:
Debian's Orthanc DICOMweb plugin (1.7) does not decode ``%2C`` in ``includefield``, which
OHIF sends (the study list then shows "No Description"), so the query is rewritten to a
plain comma; and app routes such as ``/viewer?...`` fall back to ``index.html``.
"""

from __future__ import annotations

import http.client
import logging
import mimetypes
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

PROXIED_PREFIXES = ("/dicom-web", "/wado")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
CHUNK = 1 << 16
MIME_TYPES = {".wasm": "application/wasm", ".js": "application/javascript",
              ".mjs": "application/javascript", ".json": "application/json",
              ".css": "text/css", ".html": "text/html; charset=utf-8", ".woff2": "font/woff2",
              ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


def fix_query(query: str) -> str:
    """Decode ``%2C`` to ``,`` in ``includefield`` values (Orthanc DICOMweb 1.7 needs it)."""
    def plain(match: re.Match[str]) -> str:
        return re.sub("%2[cC]", ",", match.group(0))
    return re.sub(r"(?i)(?:^|(?<=&))includefield=[^&]*", plain, query)


class ViewerHandler(BaseHTTPRequestHandler):
    """Static files from ``dist``, ``/app-config.js`` from memory, DICOMweb to Orthanc."""

    server: ViewerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_POST(self) -> None:
        self._proxy()

    def _dispatch(self, *, head: bool) -> None:
        path = urlsplit(self.path).path
        if path.startswith(PROXIED_PREFIXES):
            self._proxy()
        elif path == "/app-config.js":
            self._send_bytes(self.server.app_config.encode(), "application/javascript", head)
        else:
            self._static(path, head)

    def _send_bytes(self, body: bytes, content_type: str, head: bool, code: int = 200) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _static(self, path: str, head: bool) -> None:
        root = self.server.dist
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            # App routes (/viewer, /segmentation, ...) are the single-page app's own.
            if Path(path).suffix and Path(path).suffix != ".html":
                self._send_bytes(b"not found", "text/plain", head, code=404)
                return
            target = root / "index.html"
        ctype = MIME_TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
        self._send_bytes(target.read_bytes(), ctype or "application/octet-stream", head)

    def _proxy(self) -> None:
        parts = urlsplit(self.path)
        target = parts.path + ("?" + fix_query(parts.query) if parts.query else "")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        # The plugin builds absolute BulkData URLs from Host: keep the browser's origin.
        headers["Host"] = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                          timeout=120)
        try:
            conn.request(self.command, target, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as exc:
            logger.warning("Orthanc did not answer %s %s: %s", self.command, target, exc)
            self._send_bytes(f"Orthanc unreachable: {exc}".encode(), "text/plain",
                             self.command == "HEAD", code=502)
            return
        finally:
            conn.close()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class ViewerServer(ThreadingHTTPServer):
    """The viewer's HTTP server; ``dist`` is the OHIF bundle, upstream is Orthanc's REST."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, dist: Path, upstream: str,
                 app_config: str) -> None:
        super().__init__(address, ViewerHandler)
        self.dist = dist.resolve()
        up = urlsplit(upstream)
        if up.scheme != "http" or up.hostname is None:
            raise ValueError(f'"upstream" must be an http:// URL of Orthanc. Found "{upstream}".')
        self.upstream_host: str = up.hostname
        self.upstream_port: int = up.port or 80
        self.app_config = app_config

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_viewer_server(*, dist: Path, upstream: str, app_config: str,
                        host: str = "127.0.0.1", port: int = 0) -> ViewerServer:
    """Start the server in a daemon thread; ``server.shutdown()`` stops it."""
    server = ViewerServer((host, port), dist=dist, upstream=upstream, app_config=app_config)
    thread = threading.Thread(target=server.serve_forever, name="viewer-http", daemon=True)
    thread.start()
    logger.info("viewer on %s (OHIF from %s, DICOMweb from %s)", server.url, dist, upstream)
    return server
