"""C-MOVE service class user: ask a PACS to send a study (or series) to this node.

The PACS opens its own association back to the move destination (by default this node's
AE title, which the PACS must know as a modality) and sends every instance by C-STORE;
the running node (``vfnode serve``) receives them like any other study. This module only
asks and counts the PACS's answers (PS3.4 C.4.2: pending responses carry the remaining,
completed, failed and warning sub-operation counts; the final one the totals).
"""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, _config

from node.config.settings import Destination
from node.net import status

logger = logging.getLogger(__name__)
_config.LOG_HANDLER_LEVEL = "none"

# PS3.4 C.6: Study Root and Patient Root Query/Retrieve Information Model - MOVE.
StudyRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.2.2"
PatientRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.1.2"
PENDING = (0xFF00, 0xFF01)
CANCELLED = 0xFE00


class MoveError(ConnectionError):
    """The PACS could not be reached, refused the association or failed the C-MOVE."""


@dataclass(frozen=True, slots=True)
class MoveResult:
    """The PACS's account of one C-MOVE.

    Attributes
    ----------
    status : int
        The final DIMSE status (0x0000 all sent, 0xB000 some failed, 0xA7xx/0xC000 failure).
    completed, failed, warning : int
        Sub-operations (instances) by outcome, from the final response.
    """

    status: int
    completed: int
    failed: int
    warning: int

    @property
    def ok(self) -> bool:
        return self.status == status.SUCCESS and self.failed == 0


def move_identifier(study_uid: str, series_uid: str | None = None) -> Dataset:
    """The Study Root identifier for one study, or one series of it."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def request_move(source: Destination, study_uid: str, *, calling_ae: str,
                 destination_ae: str, series_uid: str | None = None,
                 timeout_s: float = 600.0, tls: ssl.SSLContext | None = None) -> MoveResult:
    """Ask ``source`` to C-STORE the study (or series) to ``destination_ae``.

    Raises
    ------
    MoveError
        When the association is refused or lost, or the PACS answers no final status.
    """
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = 30
    ae.dimse_timeout = timeout_s
    ae.network_timeout = timeout_s
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelMove)
    tls_args: Any = (tls, None) if tls is not None else None  # None: no SNI, peers by IP
    assoc = ae.associate(source.host, source.port, ae_title=source.ae_title, tls_args=tls_args)
    if not assoc.is_established:
        raise MoveError(f"{source.ae_title}@{source.host}:{source.port} must accept an "
                        f"association from {calling_ae}. Found it refused or unreachable.")
    sock = assoc.dul.socket.socket if assoc.dul.socket is not None else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    final: Dataset | None = None
    try:
        responses = assoc.send_c_move(move_identifier(study_uid, series_uid), destination_ae,
                                      StudyRootQueryRetrieveInformationModelMove)
        for response, _identifier in responses:
            if not response:  # no answer within the DIMSE timeout, or association lost
                break
            code = int(response.Status)
            if code in PENDING:
                logger.info("moving study=%s remaining=%s completed=%s failed=%s", study_uid,
                            response.get("NumberOfRemainingSuboperations"),
                            response.get("NumberOfCompletedSuboperations"),
                            response.get("NumberOfFailedSuboperations"))
                continue
            final = response
    finally:
        if assoc.is_established:
            assoc.release()
    if final is None:
        raise MoveError(f"{source.ae_title} must answer the C-MOVE of study {study_uid} with a "
                        "final status. Found none (the PACS aborted, timed out or lost the "
                        "association; is this AE allowed to move?).")
    return MoveResult(int(final.Status),
                      int(final.get("NumberOfCompletedSuboperations", 0) or 0),
                      int(final.get("NumberOfFailedSuboperations", 0) or 0),
                      int(final.get("NumberOfWarningSuboperations", 0) or 0))
