"""The hand-encoded File Meta Information reads back in pydicom like pynetdicom's own."""

from __future__ import annotations

import io

from pydicom import dcmread
from pydicom.uid import CTImageStorage, JPEG2000Lossless
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from node.net.part10 import IMPLEMENTATION_VERSION, part10_header


def test_header_reads_back_with_pydicom() -> None:
    data = part10_header(sop_class_uid=CTImageStorage, sop_instance_uid="1.2.3.45",
                         transfer_syntax_uid=JPEG2000Lossless, source_ae="CT1")
    assert data[:132] == b"\x00" * 128 + b"DICM"
    meta = dcmread(io.BytesIO(data + b"\x08\x00\x18\x00UI\x08\x001.2.3.45"), force=False)
    fm = meta.file_meta
    assert (fm.MediaStorageSOPClassUID, fm.MediaStorageSOPInstanceUID,
            fm.TransferSyntaxUID) == (CTImageStorage, "1.2.3.45", JPEG2000Lossless)
    assert fm.ImplementationClassUID == PYNETDICOM_IMPLEMENTATION_UID
    assert fm.ImplementationVersionName == IMPLEMENTATION_VERSION
    assert fm.SourceApplicationEntityTitle == "CT1"
    assert fm.FileMetaInformationVersion == b"\x00\x01"
    assert fm.FileMetaInformationGroupLength == len(data) - 132 - 12
    assert meta.SOPInstanceUID == "1.2.3.45"
