"""Codes: private ones are all documented, standard ones come from the DICOM value sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.sr.codedict import codes

from node.results import codes as vf_codes
from node.results.uids import derive_uid

DOCS = Path(__file__).resolve().parents[3] / "docs" / "sr.md"


def test_every_private_code_is_listed_in_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [f"{c.value} {c.meaning}" for c in vf_codes.private_codes()
               if f"| `{c.value}` | {c.meaning} |" not in text]
    assert missing == []
    assert len(vf_codes.private_codes()) >= 30


def test_private_codes_are_unique_and_fit_dicom() -> None:
    found = vf_codes.private_codes()
    assert len({c.value for c in found}) == len(found)
    for code in found:
        assert len(code.value) <= 16 and len(code.meaning) <= 64
    assert vf_codes.coding_scheme().CodingSchemeDesignator == "99VFNODE"


@pytest.mark.parametrize(("level", "expected"), [
    ("L1", codes.SCT.L1Vertebra), ("t12", codes.SCT.T12Vertebra), ("C1", codes.SCT.C1Vertebra),
    (None, codes.SCT.Vertebra), ("S1", codes.SCT.Vertebra),
])
def test_vertebra_levels_map_to_snomed(level: str | None, expected: object) -> None:
    assert vf_codes.vertebra(level) == expected


def test_derived_uids_are_uuid_based_and_stable() -> None:
    uid = derive_uid("a", "b")
    assert uid == derive_uid("a", "b") != derive_uid("a", "c") != derive_uid("ab")
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert int(uid.removeprefix("2.25.")) < 2**128
