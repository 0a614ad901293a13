"""DIMSE status codes the node answers with (PS3.4 Annex B and PS3.7 Annex C)."""

from __future__ import annotations

SUCCESS = 0x0000
# C-STORE failures (PS3.4 B.2.3)
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC210
# General failure (PS3.7 C.4): an I/O error other than a full disk.
PROCESSING_FAILURE = 0x0110

NAMES = {
    SUCCESS: "Success",
    OUT_OF_RESOURCES: "Refused: Out of Resources",
    DATASET_DOES_NOT_MATCH_SOP_CLASS: "Error: Data Set does not match SOP Class",
    CANNOT_UNDERSTAND: "Error: Cannot understand",
    PROCESSING_FAILURE: "Failure: Processing failure",
}


def is_success(code: int) -> bool:
    """Success and warnings (0xB000, 0x0107, 0x0116) mean the peer stored the instance."""
    return code == SUCCESS or code in (0x0107, 0x0116) or (code & 0xF000) == 0xB000


def describe(code: int) -> str:
    return f"0x{code:04X} {NAMES.get(code, '')}".strip()
