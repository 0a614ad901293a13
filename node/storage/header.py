"""Read what the spool index needs from a DICOM Part 10 byte string, without pixel data.

The parse defers every large value (pixel data included) so that one instance costs
about 0.3 ms; it checks that the file is whole (the pixel data fits in the bytes
received, and for native transfer syntaxes has the length its image attributes demand).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.uid import UID

from node.errors import VfnodeError

# Kept for analysis; every other storage SOP class is accepted and logged as not analysed.
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
ANALYSABLE_SOP_CLASSES = frozenset({CT_IMAGE_STORAGE, ENHANCED_CT_IMAGE_STORAGE})

PIXEL_DATA = 0x7FE00010
_DEFER_BYTES = 4096


class InvalidInstanceError(VfnodeError, ValueError):
    """The bytes received are not a DICOM instance the node can store and index."""


@dataclass(frozen=True, slots=True)
class InstanceHeader:
    """The identifiers of one received instance."""

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    transfer_syntax_uid: str
    modality: str

    @property
    def analysable(self) -> bool:
        """CT Image and Enhanced CT Image instances are analysed; the rest is kept only."""
        return self.sop_class_uid in ANALYSABLE_SOP_CLASSES


def read_header(data: bytes) -> InstanceHeader:
    """Parse the identifiers of a Part 10 file held in ``data``.

    Raises
    ------
    InvalidInstanceError
        When the bytes do not parse, an identifier is missing or not a valid UID, the
        file meta disagrees with the dataset, or the pixel data is cut short.
    """
    try:
        ds = dcmread(io.BytesIO(data), defer_size=_DEFER_BYTES)
        header = InstanceHeader(
            sop_instance_uid=_uid(ds, "SOPInstanceUID"),
            sop_class_uid=_uid(ds, "SOPClassUID"),
            series_instance_uid=_uid(ds, "SeriesInstanceUID"),
            study_instance_uid=_uid(ds, "StudyInstanceUID"),
            transfer_syntax_uid=_uid(ds.file_meta, "TransferSyntaxUID"),
            modality=str(ds.get("Modality", "") or ""),
        )
        meta_sop = str(ds.file_meta.get("MediaStorageSOPInstanceUID", ""))
        pixel = ds.get_item(PIXEL_DATA, keep_deferred=True)
        native = not UID(header.transfer_syntax_uid).is_compressed
        if native and header.analysable:
            _check_native_pixels(ds, pixel, len(data))
        elif pixel is not None:
            _check_within(pixel, len(data))
    except InvalidInstanceError:
        raise
    except Exception as exc:  # pydicom raises many types on malformed input
        raise InvalidInstanceError(
            f"The dataset must parse as DICOM. Found {type(exc).__name__}: {exc}"
        ) from exc
    if meta_sop and meta_sop != header.sop_instance_uid:
        raise InvalidInstanceError(
            "The SOP Instance UID of the request must equal the dataset's. "
            f"Found {meta_sop} and {header.sop_instance_uid}."
        )
    return header


def _uid(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    text = str(value).strip() if value is not None else ""
    if not text or not UID(text).is_valid:
        raise InvalidInstanceError(f'"{keyword}" must be a valid UID. Found "{text}".')
    return text


def _check_within(pixel: Any, total: int) -> None:
    if isinstance(pixel, RawDataElement) and pixel.length != 0xFFFFFFFF:
        end = pixel.value_tell + pixel.length
        if end > total:
            raise InvalidInstanceError(
                f"The pixel data must fit in the bytes received. It needs {end} bytes, "
                f"found {total}."
            )


def _check_native_pixels(ds: Any, pixel: Any, total: int) -> None:
    if pixel is None:
        raise InvalidInstanceError("A CT image must have Pixel Data. Found none.")
    _check_within(pixel, total)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    expected = (
        int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
        * (int(ds.BitsAllocated) // 8) * frames
    )
    length = pixel.length if isinstance(pixel, RawDataElement) else len(pixel.value)
    if length not in (expected, expected + 1):
        raise InvalidInstanceError(
            f"Pixel Data must hold Rows x Columns x samples x bytes x frames = {expected} "
            f"bytes. Found {length}."
        )
