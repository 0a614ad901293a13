"""The DICOM Part 10 preamble and File Meta Information of a received dataset, as bytes.

pynetdicom passes a C-STORE dataset without file meta. ``Event.encoded_dataset()`` can add
it, but builds and validates a pydicom FileMetaDataset for every instance (about 2 ms of
CPU on this machine, as much as the rest of the handler); the group is small and fixed, so
it is encoded here directly (PS3.10 7.1, explicit VR little endian) and checked against
pydicom's reading in the tests.
"""

from __future__ import annotations

import struct

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from node import __version__

PREAMBLE = b"\x00" * 128 + b"DICM"
IMPLEMENTATION_VERSION = f"VFNODE_{__version__}"[:16]


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr == b"UI" else b" "
    if vr == b"OB":
        return struct.pack("<HH2sHI", 0x0002, element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def part10_header(*, sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str,
                  source_ae: str = "") -> bytes:
    """Preamble, "DICM" and the File Meta Information group for one dataset.

    Parameters
    ----------
    sop_class_uid, sop_instance_uid : str
        From the C-STORE request (Affected SOP Class / Instance UID).
    transfer_syntax_uid : str
        Of the presentation context the dataset was received on.
    source_ae : str
        The calling AE title (Source Application Entity Title).
    """
    body = b"".join((
        _element(0x0001, b"OB", b"\x00\x01"),
        _element(0x0002, b"UI", sop_class_uid.encode("ascii", "replace")),
        _element(0x0003, b"UI", sop_instance_uid.encode("ascii", "replace")),
        _element(0x0010, b"UI", transfer_syntax_uid.encode("ascii", "replace")),
        _element(0x0012, b"UI", str(PYNETDICOM_IMPLEMENTATION_UID).encode("ascii")),
        _element(0x0013, b"SH", IMPLEMENTATION_VERSION.encode("ascii")),
        *((_element(0x0016, b"AE", source_ae.strip().encode("ascii", "replace")),)
          if source_ae.strip() else ()),
    ))
    group_length = struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body))
    return PREAMBLE + group_length + body
