"""A test C-STORE sender (pynetdicom, TCP_NODELAY, files sent as they are on disk) that
records what the receiver answered for each file and how long each answer took."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.filereader import read_file_meta_info
from pynetdicom import AE, _config

_config.LOG_HANDLER_LEVEL = "none"


@dataclass
class SendLog:
    """Per file: the DIMSE status (None when no answer came) and the seconds it took."""

    status: dict[Path, int | None] = field(default_factory=dict)
    seconds: dict[Path, float] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    error: str = ""

    def succeeded(self) -> list[Path]:
        return [p for p, code in self.status.items() if code == 0]

    def unanswered(self) -> list[Path]:
        return [p for p, code in self.status.items() if code is None]


def send_files(paths: Iterable[Path], port: int, *, calling_ae: str = "LOADER",
               called_ae: str = "VFNODE", dimse_timeout: float = 30.0,
               log: SendLog | None = None) -> SendLog:
    """Send every file over one association; stop at the first lost association."""
    paths = list(paths)
    log = log or SendLog()
    _config.STORE_SEND_CHUNKED_DATASET = True  # the bytes on disk, never re-encoded
    ae = AE(ae_title=calling_ae)
    ae.dimse_timeout = dimse_timeout
    ae.acse_timeout = 30
    contexts = sorted({(str(m.MediaStorageSOPClassUID), str(m.TransferSyntaxUID))
                       for m in (read_file_meta_info(p) for p in paths)})
    for sop_class, syntax in contexts:
        ae.add_requested_context(sop_class, syntax)
    log.started = time.monotonic()
    assoc = ae.associate("127.0.0.1", port, ae_title=called_ae)
    try:
        if not assoc.is_established:
            log.error = "association refused or no answer"
            for path in paths:
                log.status.setdefault(path, None)
            return log
        if assoc.dul.socket is not None and assoc.dul.socket.socket is not None:
            assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for path in paths:
            begin = time.monotonic()
            response = assoc.send_c_store(path) if assoc.is_established else None
            code = int(response.Status) if response and "Status" in response else None
            log.status[path] = code
            log.seconds[path] = time.monotonic() - begin
            if code is None and not assoc.is_established:
                log.error = "association lost"
        if assoc.is_established:
            assoc.release()
    finally:
        if assoc.is_established:
            assoc.abort()
        log.ended = time.monotonic()
    return log
