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
               called_ae: str = "VFNODE", dimse_timeout: float = 10.0,
               log: SendLog | None = None, associations: int = 3) -> SendLog:
    """Send every file; when an association is lost, resend what was not answered on a
    new one (up to ``associations`` in all), as a PACS does.

    pynetdicom 3.0.4 as a sender occasionally loses an association mid-series (a C-STORE
    response it does not match, then a DIMSE timeout): the short timeout and the resend
    keep that from looking like a fault of the receiver.
    """
    paths = list(paths)
    log = log or SendLog()
    log.started = time.monotonic()
    for _ in range(associations):
        pending = [p for p in paths if log.status.get(p) is None]
        if not pending:
            break
        _one_association(pending, port, calling_ae, called_ae, dimse_timeout, log)
    log.ended = time.monotonic()
    return log


def _one_association(paths: list[Path], port: int, calling_ae: str, called_ae: str,
                     dimse_timeout: float, log: SendLog) -> None:
    _config.STORE_SEND_CHUNKED_DATASET = True  # the bytes on disk, never re-encoded
    ae = AE(ae_title=calling_ae)
    ae.dimse_timeout = dimse_timeout
    ae.acse_timeout = 30
    contexts = sorted({(str(m.MediaStorageSOPClassUID), str(m.TransferSyntaxUID))
                       for m in (read_file_meta_info(p) for p in paths)})
    for sop_class, syntax in contexts:
        ae.add_requested_context(sop_class, syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title=called_ae)
    try:
        if not assoc.is_established:
            log.error = "association refused or no answer"
            for path in paths:
                log.status.setdefault(path, None)
            return
        if assoc.dul.socket is not None and assoc.dul.socket.socket is not None:
            assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for path in paths:
            if not assoc.is_established:
                log.error = "association lost"
                log.status.setdefault(path, None)
                continue
            begin = time.monotonic()
            response = assoc.send_c_store(path)
            code = int(response.Status) if response and "Status" in response else None
            log.status[path] = code
            log.seconds[path] = time.monotonic() - begin
        if assoc.is_established:
            assoc.release()
    finally:
        if assoc.is_established:
            assoc.abort()
