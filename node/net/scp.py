"""The C-ECHO / C-STORE service class provider: thin handlers in front of the spool.

Several receiving processes may share one listening socket (``net.receivers``): each runs
a pynetdicom server on the inherited socket, and whichever process is idle accepts the
next connection. That is how the node gets past the one-process ceiling of pynetdicom
(GIL and its polling loop) with several associations at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydicom import uid
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
from pynetdicom.events import Event
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from node.config.settings import NetSettings
from node.net import status
from node.net.access import AccessPolicy
from node.net.part10 import part10_header
from node.net.tls import server_context
from node.storage.spool import InvalidInstanceError, Spool, SpoolError, SpoolFullError

logger = logging.getLogger(__name__)

# pynetdicom's "standard" handlers log every PDU and DIMSE message: a cost on every
# instance that the node does not need (associations are logged below).
_config.LOG_HANDLER_LEVEL = "none"

TRANSFER_SYNTAXES = [
    uid.ExplicitVRLittleEndian,
    uid.ImplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.RLELossless,
]
assert set(TRANSFER_SYNTAXES) <= set(ALL_TRANSFER_SYNTAXES)
MAX_PDU_BYTES = 4 * 1024 * 1024


@dataclass
class AssociationLog:
    """Counts per open association, written to the node database when it ends."""

    state: Any  # node.storage.db.SharedConnection
    counts: dict[int, list[int]] = field(default_factory=dict)
    rows: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, event: Event) -> None:
        assoc = event.assoc
        with self.state.transaction() as conn:
            row = conn.execute(
                "INSERT INTO associations (pid, calling_ae, address, outcome, started_at) "
                "VALUES (?, ?, ?, 'open', ?)",
                (os.getpid(), assoc.requestor.ae_title, assoc.requestor.address, time.time()),
            ).lastrowid
        with self.lock:
            self.rows[id(assoc)] = int(row or 0)
            self.counts[id(assoc)] = [0, 0]
        logger.info("association accepted calling_ae=%s address=%s",
                    assoc.requestor.ae_title, assoc.requestor.address)

    def count(self, event: Event, ok: bool) -> None:
        with self.lock:
            counts = self.counts.setdefault(id(event.assoc), [0, 0])
            counts[0 if ok else 1] += 1

    def closed(self, event: Event, outcome: str) -> None:
        assoc = event.assoc
        with self.lock:
            row = self.rows.pop(id(assoc), None)
            stored, failed = self.counts.pop(id(assoc), [0, 0])
        if row is not None:
            with self.state.transaction() as conn:
                conn.execute("UPDATE associations SET outcome = ?, ended_at = ? WHERE id = ?",
                             (outcome, time.time(), row))
        logger.info("association %s calling_ae=%s stored=%d failed=%d", outcome,
                    assoc.requestor.ae_title, stored, failed)


def handle_store(event: Event, spool: Spool, log: AssociationLog) -> int:
    """Store one instance durably; Success only after fsync and index."""
    calling_ae = event.assoc.requestor.ae_title
    try:
        request: Any = event.request
        meta = part10_header(sop_class_uid=str(request.AffectedSOPClassUID),
                             sop_instance_uid=str(request.AffectedSOPInstanceUID),
                             transfer_syntax_uid=str(event.context.transfer_syntax),
                             source_ae=calling_ae)
        stored = spool.accept(meta + event.encoded_dataset(include_meta=False),
                              calling_ae=calling_ae)
    except SpoolFullError as exc:
        logger.error("refused instance (out of resources) calling_ae=%s: %s", calling_ae, exc)
        code = status.OUT_OF_RESOURCES
    except InvalidInstanceError as exc:
        logger.warning("refused instance (cannot understand) calling_ae=%s: %s", calling_ae, exc)
        code = status.CANNOT_UNDERSTAND
    except SpoolError as exc:
        logger.error("refused instance (processing failure) calling_ae=%s: %s", calling_ae, exc)
        code = status.PROCESSING_FAILURE
    except Exception:  # never Success for what was not stored, never a dead handler
        logger.exception("refused instance (unexpected error) calling_ae=%s", calling_ae)
        code = status.PROCESSING_FAILURE
    else:
        header = stored.header
        if not header.analysable:
            logger.info("stored sop=%s class=%s series=%s: not analysed (not a CT image)",
                        header.sop_instance_uid, header.sop_class_uid,
                        header.series_instance_uid)
        else:
            logger.debug("stored sop=%s series=%s calling_ae=%s new=%s",
                         header.sop_instance_uid, header.series_instance_uid, calling_ae,
                         stored.new)
        code = status.SUCCESS
    log.count(event, code == status.SUCCESS)
    return code


class PolicyAE(AE):
    """An AE whose calling-AE allow-list depends on the association asking.

    pynetdicom checks ``require_calling_aet`` inside the association's own thread during
    negotiation, after the calling AE title and peer address are known; answering there
    refuses the association with "calling AE title not recognized" (PS3.8 9.3.4).
    """

    def __init__(self, ae_title: str, policy: AccessPolicy) -> None:
        super().__init__(ae_title=ae_title)
        self.policy = policy

    @property
    def require_calling_aet(self) -> list[str]:
        assoc = threading.current_thread()
        requestor = getattr(assoc, "requestor", None)
        if requestor is None:  # not asked from an association thread
            return sorted(self.policy.allowed_aes)
        reason = self.policy.refusal(requestor.ae_title, requestor.address)
        if reason is None:
            return []  # empty: pynetdicom accepts
        return ["\x00refused"]  # matches no AE title: pynetdicom rejects

    @require_calling_aet.setter
    def require_calling_aet(self, ae_titles: list[str]) -> None:
        raise AttributeError("PolicyAE takes its allow-list from AccessPolicy.")


def make_acceptor(net: NetSettings, *, processes: int = 1) -> PolicyAE:
    """The application entity of the node with every storage SOP class a CT study may carry."""
    policy = AccessPolicy.from_settings(net.allowed_calling_aes, net.allowed_hosts)
    ae = PolicyAE(net.ae_title, policy)
    ae.require_called_aet = True
    ae.acse_timeout = net.acse_timeout_s
    ae.dimse_timeout = net.dimse_timeout_s
    ae.network_timeout = net.network_timeout_s
    ae.maximum_associations = max(1, -(-net.max_associations // processes))
    # pynetdicom's default 16 KB makes dcmtk send a 512 KB slice in 34 PDUs, each decoded
    # in Python; with a large limit it sends about 6.
    ae.maximum_pdu_size = MAX_PDU_BYTES
    ae.add_supported_context(Verification, [uid.ImplicitVRLittleEndian,
                                            uid.ExplicitVRLittleEndian])
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax), TRANSFER_SYNTAXES)
    return ae


def listening_socket(net: NetSettings) -> socket.socket:
    """Bind and listen on the configured address; shared by every receiving process."""
    family = socket.AF_INET6 if ":" in net.bind_address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((net.bind_address, net.port))
    except OSError as exc:
        sock.close()
        raise OSError(
            f"The node must be able to listen on {net.bind_address}:{net.port}. Found: {exc}"
        ) from exc
    sock.listen(64)
    # Several processes poll this socket; the ones that lose the race for a connection
    # must get EAGAIN (ignored by socketserver) instead of blocking in accept().
    sock.setblocking(False)
    return sock


class _SharedSocketServer(ThreadedAssociationServer):
    """A pynetdicom server on a socket that is already bound and listening."""

    shared_socket: socket.socket | None = None
    sharing_processes = 1

    def server_bind(self) -> None:
        if self.shared_socket is None:
            raise RuntimeError("_SharedSocketServer needs shared_socket set.")
        if self.socket is not None:
            self.socket.close()
        self.socket = self.shared_socket
        self.server_address = self.socket.getsockname()

    def server_activate(self) -> None:
        """Already listening."""

    def get_request(self) -> tuple[socket.socket, Any]:
        if self.sharing_processes > 1:
            # Every process polling the socket wakes for a new connection; a busy one lets
            # an idle one take it (it then finds nothing: EAGAIN, ignored by socketserver).
            # Without this, two associations arriving together often share one process.
            busy = len(self.active_associations)
            if busy >= self.ae.maximum_associations:
                # This process has its share: leave the connection to another one, or in
                # the backlog until an association ends, rather than reject it.
                time.sleep(0.05)
                raise OSError("this receiving process is at its association limit")
            if busy:
                time.sleep(min(0.05, 0.01 * busy))
        client, address = super().get_request()
        # The C-STORE responses are small PDUs: Nagle's algorithm would hold them back.
        raw = getattr(client, "socket", client)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client, address

    def process_request(self, request: Any, client_address: Any) -> None:
        # Start the association thread here rather than from socketserver's extra thread,
        # so that the next get_request() already counts it in active_associations.
        self.process_request_thread(request, client_address)


def start_receiver(net: NetSettings, spool: Spool, sock: socket.socket, *,
                   processes: int = 1) -> ThreadedAssociationServer:
    """Serve C-ECHO and C-STORE on ``sock`` in background threads; returns the server."""
    ae = make_acceptor(net, processes=processes)
    log = AssociationLog(spool.state)
    policy = ae.policy
    handlers: list[Any] = [
        (evt.EVT_C_STORE, handle_store, [spool, log]),
        (evt.EVT_ACCEPTED, log.opened),
        (evt.EVT_RELEASED, lambda event: log.closed(event, "released")),
        (evt.EVT_ABORTED, lambda event: log.closed(event, "aborted")),
        (evt.EVT_REJECTED, lambda event: _log_rejected(event, policy, net.ae_title)),
    ]
    server_class = type("SharedSocketServer", (_SharedSocketServer,),
                        {"shared_socket": sock, "sharing_processes": processes})
    server = ae.make_server(
        sock.getsockname()[:2], ae_title=net.ae_title, ssl_context=server_context(net),
        evt_handlers=handlers, server_class=server_class,
    )
    ae._servers.append(server)  # so that server.shutdown() finds it
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="vfnode-acceptor", daemon=True)
    thread.start()
    if not policy.allowed_aes:
        logger.warning("net.allowed_calling_aes is empty: every calling AE title is accepted")
    logger.info("listening ae_title=%s address=%s:%d pid=%d", net.ae_title,
                *sock.getsockname()[:2], os.getpid())
    return server


def _log_rejected(event: Event, policy: AccessPolicy, own_ae: str) -> None:
    requestor = event.assoc.requestor
    primitive = requestor.primitive
    called = primitive.called_ae_title if primitive is not None else ""
    reason = policy.refusal(requestor.ae_title, requestor.address)
    if reason is None and called.strip() != own_ae:
        reason = f'called AE "{called.strip()}" is not this node\'s "{own_ae}"'
    logger.warning("association refused calling_ae=%s address=%s reason=%s",
                   requestor.ae_title, requestor.address, reason or "too many associations")
