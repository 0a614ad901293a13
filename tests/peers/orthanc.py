"""Debian's Orthanc as a real PACS on loopback, for tests and ``scripts/viewer``.

``start_orthanc`` writes a configuration into a fresh folder (storage and index inside it),
picks free HTTP and DICOM ports, declares the given modalities (vfnode among them) with
the right to store, echo, find and move, and starts ``Orthanc`` with ``TCP_NODELAY=1`` in
its environment (Debian's Orthanc 1.10 leaves Nagle on otherwise, and a dcmtk receiver
then stalls ~44 ms per C-STORE). The DICOMweb plugin is loaded only when asked for.
``OrthancPeer`` wraps the REST calls the tests need; ``stop()`` ends the process it started.

Orthanc 1.10 binds its DICOM port on every interface (it has no option for one address),
so tests use a random free port; HTTP is restricted to loopback by
``RemoteAccessAllowed: false``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ORTHANC_BINARY = "Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Modality:
    """A DICOM peer Orthanc knows by name (``/modalities/<name>``)."""

    ae_title: str
    port: int
    host: str = LOOPBACK

    def to_config(self) -> dict[str, object]:
        return {
            "AET": self.ae_title, "Host": self.host, "Port": self.port,
            "AllowEcho": True, "AllowStore": True, "AllowFind": True,
            "AllowMove": True, "AllowGet": True,
        }


def free_port() -> int:
    """Return a TCP port that was free on loopback a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float, msg: str,
             interval: float = 0.1) -> object:
    """Poll ``predicate`` until it returns a truthy value; raise ``TimeoutError`` with ``msg``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{msg} (waited {timeout:.0f} s)")
        time.sleep(interval)


def orthanc_available() -> bool:
    """True when the Orthanc binary is on PATH (``scripts/install --test`` installs it)."""
    return shutil.which(ORTHANC_BINARY) is not None


def dicomweb_available() -> bool:
    """True when Debian's DICOMweb plugin (package ``orthanc-dicomweb``) is installed."""
    return DICOMWEB_PLUGIN.is_file()


@dataclass
class OrthancPeer:
    """A running Orthanc started by :func:`start_orthanc`."""

    root: Path
    http_port: int
    dicom_port: int
    ae_title: str
    process: subprocess.Popen[bytes]
    log_path: Path
    modalities: dict[str, Modality] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def address(self) -> str:
        """``AE@HOST:PORT`` of its DICOM server, the form vfnode's CLI takes."""
        return f"{self.ae_title}@{LOOPBACK}:{self.dicom_port}"

    # -- REST ------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json", timeout: float = 60.0) -> bytes:
        """Send one REST request; raise ``RuntimeError`` with Orthanc's answer on HTTP errors."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(
                f"Orthanc {method} {path} must succeed. Found HTTP {exc.code}: {detail}"
            ) from exc

    def get(self, path: str) -> Any:
        return json.loads(self.request("GET", path))

    def post(self, path: str, payload: object, timeout: float = 120.0) -> Any:
        raw = self.request("POST", path, json.dumps(payload).encode(), timeout=timeout)
        return json.loads(raw) if raw.strip() else None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def alive(self) -> bool:
        """True when the process runs and its REST API answers."""
        if self.process.poll() is not None:
            return False
        try:
            self.get("/system")
        except (OSError, RuntimeError):
            return False
        return True

    def upload(self, paths: Iterable[Path]) -> list[str]:
        """POST each DICOM file to ``/instances``; return Orthanc's instance ids."""
        ids = []
        for path in paths:
            answer = json.loads(self.request("POST", "/instances", Path(path).read_bytes(),
                                             content_type="application/dicom"))
            ids.append(str(answer["ID"]))
        return ids

    def store_to(self, modality: str, resources: list[str], *, synchronous: bool = True,
                 timeout: float = 300.0) -> Any:
        """Ask Orthanc to C-STORE ``resources`` (Orthanc ids) to a declared modality."""
        return self.post(f"/modalities/{modality}/store",
                         {"Resources": resources, "Synchronous": synchronous},
                         timeout=timeout)

    def find_study(self, study_uid: str) -> str | None:
        """Orthanc id of the study with this Study Instance UID, or None."""
        # /tools/lookup takes the bare UID as body, not a JSON string.
        raw = self.request("POST", "/tools/lookup", study_uid.encode(), content_type="text/plain")
        for item in json.loads(raw):
            if item.get("Type") == "Study":
                return str(item["ID"])
        return None

    def study_series(self, study_uid: str) -> list[dict[str, Any]]:
        """Every series of the study (Orthanc's expanded series objects)."""
        study_id = self.find_study(study_uid)
        if study_id is None:
            return []
        return list(self.get(f"/studies/{study_id}/series"))

    def instance_file(self, instance_id: str) -> bytes:
        return self.request("GET", f"/instances/{instance_id}/file")

    def statistics(self) -> dict[str, Any]:
        return dict(self.get("/statistics"))

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self, timeout: float = 20.0) -> None:
        """Stop Orthanc: SIGTERM, then SIGKILL if it does not exit in ``timeout`` s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("Orthanc pid=%s ignored SIGTERM; killing it", self.process.pid)
                self.process.kill()
                self.process.wait(timeout)

    def kill(self) -> None:
        """``kill -9`` the process (a PACS that crashed)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(20)

    def restart(self, timeout: float = 60.0) -> None:
        """Start the same configuration again (same ports, same storage)."""
        self.stop()
        self.process = _launch(self.root, self.log_path)
        _wait_ready(self, timeout)


def build_config(root: Path, *, http_port: int, dicom_port: int, ae_title: str,
                 modalities: Mapping[str, Modality], dicomweb: bool,
                 always_allow_store: bool = False) -> dict[str, object]:
    """Orthanc's JSON configuration for a loopback test PACS stored under ``root``."""
    config: dict[str, object] = {
        "Name": f"vfnode-test-{ae_title}",
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "storage"),
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpDescribeErrors": True,
        "DicomServerEnabled": True,
        "DicomAet": ae_title,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        # Only declared modalities may store: vfnode's results come from a known AE.
        "DicomAlwaysAllowStore": always_allow_store,
        "DicomAlwaysAllowEcho": True,
        "DicomCheckModalityHost": True,
        "DicomModalities": {name: mod.to_config() for name, mod in modalities.items()},
        "DicomScuTimeout": 30,
        "DicomAssociationCloseDelay": 0,
        "SaveJobs": False,
        "StableAge": 2,
        "Plugins": [str(DICOMWEB_PLUGIN)] if dicomweb else [],
    }
    if dicomweb:
        config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                              "WadoRoot": "/wado", "Host": LOOPBACK, "Ssl": False}
    return config


def _launch(root: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TCP_NODELAY="1")
    log = log_path.open("ab")
    try:
        return subprocess.Popen([ORTHANC_BINARY, str(root / "orthanc.json")], cwd=root,
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    finally:
        log.close()


def _wait_ready(peer: OrthancPeer, timeout: float) -> None:
    def ready() -> bool:
        if peer.process.poll() is not None:
            tail = peer.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"Orthanc must keep running. Found exit code {peer.process.returncode}:\n{tail}"
            )
        return peer.alive()

    wait_for(ready, timeout, f"Orthanc must answer on {peer.url}/system")


def start_orthanc(root: Path, *, modalities: Mapping[str, Modality] | None = None,
                  dicomweb: bool = False, ae_title: str = "ORTHANC",
                  always_allow_store: bool = False, http_port: int | None = None,
                  dicom_port: int | None = None, timeout: float = 60.0) -> OrthancPeer:
    """Start Orthanc with its own storage under ``root``; return once REST answers.

    Parameters
    ----------
    root : a fresh folder for the configuration, storage, index and log.
    modalities : name -> peer declared in ``DicomModalities`` (may store, echo, find, move).
    dicomweb : load Debian's DICOMweb plugin (``/dicom-web``, ``/wado``).
    always_allow_store : let unknown AEs store too (Orthanc's default; off here).
    """
    if not orthanc_available():
        raise RuntimeError(f'"{ORTHANC_BINARY}" must be on PATH. Found none: '
                           "run ./scripts/install --test")
    if dicomweb and not dicomweb_available():
        raise RuntimeError(f"The DICOMweb plugin must exist at {DICOMWEB_PLUGIN}. Found none: "
                           "run ./scripts/install --test")
    root.mkdir(parents=True, exist_ok=True)
    (root / "storage").mkdir(exist_ok=True)
    mods = dict(modalities or {})
    http_port = http_port or free_port()
    dicom_port = dicom_port or free_port()
    config = build_config(root, http_port=http_port, dicom_port=dicom_port, ae_title=ae_title,
                          modalities=mods, dicomweb=dicomweb,
                          always_allow_store=always_allow_store)
    (root / "orthanc.json").write_text(json.dumps(config, indent=2))
    log_path = root / "orthanc.log"
    peer = OrthancPeer(root=root, http_port=http_port, dicom_port=dicom_port,
                       ae_title=ae_title, process=_launch(root, log_path),
                       log_path=log_path, modalities=mods)
    try:
        _wait_ready(peer, timeout)
    except BaseException:
        peer.kill()
        raise
    logger.info("Orthanc pid=%s http=%s dicom=%s", peer.process.pid, peer.url, peer.address)
    return peer
