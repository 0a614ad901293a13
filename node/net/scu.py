"""C-ECHO and C-STORE service class user: ``vfnode echo``/``send`` and the outbox.

Files are sent as they are on disk (pynetdicom reads the encoded dataset and never decodes
it), so a resent object keeps its bytes and UIDs. Every association gets TCP_NODELAY
(pynetdicom leaves Nagle's algorithm on: about 47 instances/s instead of about 200) and a
short DIMSE timeout; when an association is lost mid-series, only the instances that were
not acknowledged are sent again, on a new association.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.filereader import read_file_meta_info
from pynetdicom import AE, _config
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from node.config.settings import Destination
from node.net import status

logger = logging.getLogger(__name__)
_config.LOG_HANDLER_LEVEL = "none"

MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are odd numbers 1..255


class AssociationError(ConnectionError):
    """The peer could not be reached or refused the association."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for association set-up, each DIMSE answer and the network."""

    acse_s: float = 10.0
    dimse_s: float = 20.0
    network_s: float = 30.0


@dataclass
class SendReport:
    """What the peer answered for each file.

    Attributes
    ----------
    acknowledged : dict
        Path -> DIMSE status code of the C-STORE response (success or not).
    unanswered : dict
        Path -> why no answer came (association refused or lost every time).
    """

    acknowledged: dict[Path, int] = field(default_factory=dict)
    unanswered: dict[Path, str] = field(default_factory=dict)

    @property
    def stored(self) -> list[Path]:
        return [p for p, code in self.acknowledged.items() if status.is_success(code)]

    @property
    def refused(self) -> dict[Path, int]:
        return {p: c for p, c in self.acknowledged.items() if not status.is_success(c)}


def _ae(calling_ae: str, timeouts: Timeouts) -> AE:
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = timeouts.acse_s
    ae.dimse_timeout = timeouts.dimse_s
    ae.network_timeout = timeouts.network_s
    return ae


def _associate(ae: AE, dest: Destination, ssl_context: ssl.SSLContext | None) -> Association:
    # No server_hostname: peers are addressed by IP; trust comes from the CA (tls.py).
    tls_args: Any = (ssl_context, None) if ssl_context is not None else None
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title, tls_args=tls_args)
    if not assoc.is_established:
        # pynetdicom reports a refused TCP connection as an abort too.
        why = ("rejected the association" if assoc.is_rejected else
               "could not be reached (connection refused, timed out or aborted)")
        raise AssociationError(f"{dest.ae_title}@{dest.host}:{dest.port} {why}")
    sock = assoc.dul.socket.socket if assoc.dul.socket is not None else None
    if sock is not None:
        # Nagle's algorithm holds back the small DIMSE command PDUs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return assoc


def echo(dest: Destination, *, calling_ae: str = "VFNODE", timeouts: Timeouts | None = None,
         ssl_context: ssl.SSLContext | None = None) -> int:
    """C-ECHO ``dest`` and return the status code (raises AssociationError if unreachable)."""
    ae = _ae(calling_ae, timeouts or Timeouts())
    ae.add_requested_context(Verification)
    assoc = _associate(ae, dest, ssl_context)
    try:
        answer = assoc.send_c_echo()
    finally:
        assoc.release()
    if "Status" not in answer:
        raise AssociationError(f"{dest.ae_title} did not answer the C-ECHO")
    return int(answer.Status)


def _contexts(paths: Sequence[Path]) -> tuple[list[tuple[str, str]], dict[Path, str]]:
    """(SOP class, transfer syntax) pairs of the files, and the files that cannot be read."""
    pairs: dict[tuple[str, str], None] = {}
    unreadable: dict[Path, str] = {}
    for path in paths:
        try:
            meta = read_file_meta_info(path)
            pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
        except Exception as exc:  # any unreadable file is reported, never fatal
            unreadable[path] = f"not a DICOM Part 10 file: {exc}"
            continue
        pairs.setdefault(pair)
    return list(pairs), unreadable


def send_files(
    paths: Sequence[Path],
    dest: Destination,
    *,
    calling_ae: str = "VFNODE",
    timeouts: Timeouts | None = None,
    max_associations: int = 3,
    ssl_context: ssl.SSLContext | None = None,
    progress: Callable[[Path, int | None], None] | None = None,
) -> SendReport:
    """C-STORE every file to ``dest``; an association lost midway is replaced.

    Parameters
    ----------
    max_associations : int
        Associations tried in a row without any acknowledgement before giving up.
    progress : callable, optional
        Called after each file with its path and status (None when unanswered).
    """
    report = SendReport()
    pairs, unreadable = _contexts(paths)
    report.unanswered.update(unreadable)
    if len(pairs) > MAX_CONTEXTS:
        raise ValueError(
            f"One association carries at most {MAX_CONTEXTS} SOP class / transfer syntax "
            f"pairs. Found {len(pairs)}; send the files in several groups."
        )
    pending = [p for p in paths if p not in unreadable]
    fruitless = 0
    last_error = ""
    ae = _ae(calling_ae, timeouts or Timeouts())
    for sop_class, syntax in pairs:
        ae.add_requested_context(sop_class, [syntax])
    while pending and fruitless < max_associations:
        before = len(pending)
        try:
            pending = _send_on_one_association(ae, dest, pending, report, ssl_context, progress)
        except AssociationError as exc:
            logger.warning("send to %s: %s", dest.ae_title, exc)
            last_error = str(exc)
        else:
            last_error = "the association ended before these were answered"
        fruitless = 0 if len(pending) < before else fruitless + 1
        if pending and fruitless < max_associations:
            time.sleep(min(2.0, 0.2 * 2**fruitless))  # let a restarting peer come back
    for path in pending:
        report.unanswered[path] = last_error
        if progress is not None:
            progress(path, None)
    return report


def _send_on_one_association(
    ae: AE, dest: Destination, pending: list[Path], report: SendReport,
    ssl_context: ssl.SSLContext | None, progress: Callable[[Path, int | None], None] | None,
) -> list[Path]:
    """Send until done or until the association is lost; return what is still unanswered."""
    assoc = _associate(ae, dest, ssl_context)
    try:
        for index, path in enumerate(pending):
            if not assoc.is_established:
                return pending[index:]
            try:
                answer = assoc.send_c_store(path)
            except ValueError as exc:  # no accepted context for this file's class/syntax
                report.unanswered[path] = str(exc)
                if progress is not None:
                    progress(path, None)
                continue
            if "Status" not in answer:
                logger.warning("send to %s: no answer for %s (association lost)",
                               dest.ae_title, path.name)
                return pending[index:]
            code = int(answer.Status)
            report.acknowledged[path] = code
            if progress is not None:
                progress(path, code)
        return []
    finally:
        if assoc.is_established:
            assoc.release()
        else:
            assoc.abort()
