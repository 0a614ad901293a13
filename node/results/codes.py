"""Every coded concept the result objects use (listed with their meaning in docs/sr.md).

Standard codes come from DICOM PS3.16 (``DCM``), SNOMED CT (``SCT``), LOINC (``LN``)
and UCUM; they are only used where the standard's own value sets hold a concept with
the right meaning. The rest is a private coding scheme, ``99VFNODE``, declared in every
SR's Coding Scheme Identification Sequence (``coding_scheme()``).
"""

from __future__ import annotations

import highdicom as hd
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from node.analysis.types import Flag, Group, LeakSite

SCHEME = "99VFNODE"
SCHEME_NAME = "vfnode vertebroplasty cement measurement codes"
SCHEME_VERSION = "1"


def _private(value: str, meaning: str) -> Code:
    return Code(value, SCHEME, meaning)


def coding_scheme() -> hd.coding_schemes.CodingSchemeIdentificationItem:
    """The Coding Scheme Identification item that declares ``99VFNODE``."""
    return hd.coding_schemes.CodingSchemeIdentificationItem(
        designator=SCHEME,
        name=SCHEME_NAME,
        version=SCHEME_VERSION,
        responsible_organization="vfnode project",
    )


# --- Units (UCUM) -----------------------------------------------------------------
UNIT_ML = Code("ml", "UCUM", "milliliter")
UNIT_PERCENT = Code("%", "UCUM", "percent")
UNIT_SCORE = Code("{score}", "UCUM", "score")
UNIT_MM2 = Code("mm2", "UCUM", "square millimeter")
UNIT_COUNT = Code("{vertebrae}", "UCUM", "vertebrae")

# --- Document, procedure, observer ------------------------------------------------
PROCEDURE_CT = codes.LN.CTUnspecifiedBodyRegion  # LN 25045-6, CID 100
ANATOMICAL_STRUCTURE = codes.SCT.AnatomicalStructure  # SCT 91723000, CID 7150
SUBSTANCE = codes.SCT.Substance  # SCT 105590001, CID 7150
VERTEBRA = codes.SCT.Vertebra  # SCT 51282000, CID 7151 (level unknown)
PRESENT = codes.SCT.Present  # SCT 52101004, CID 240
ABSENT = codes.SCT.Absent  # SCT 272519000, CID 240
AREA = codes.SCT.Area  # SCT 42798000, CID 7469

# --- What was segmented and measured (no code with this meaning in PS3.16) --------
VERTEBRAL_BODY = _private("VB", "Vertebral body")
BONE_CEMENT = _private("CEMENT", "Bone cement")
EXTRAVERTEBRAL_CEMENT = _private("EXTRACEMENT", "Extravertebral bone cement")
ANALYSED_FIELD = _private("FOV", "Analysed field of view")

VBV = _private("VBV", "Vertebral body volume (VBV)")
CDV = _private("CDV", "Cement dispersion volume (CDV)")
VF = _private("VF", "Cement volume fraction (VF%)")
VF_CUTOFF = _private("VFCUTOFF", "VF% cut-off for extensive distribution")
EXTRAVERTEBRAL_TOTAL = _private("EXTRAVOL", "Extravertebral cement volume")
EXTRAVERTEBRAL_BY_SITE: dict[LeakSite, Code] = {
    LeakSite.DISC: _private("EXTRAVOL-DISC", "Extravertebral cement volume, disc"),
    LeakSite.CANAL: _private("EXTRAVOL-CANAL", "Extravertebral cement volume, canal"),
    LeakSite.NEEDLE_TRACT: _private("EXTRAVOL-TRACT",
                                    "Extravertebral cement volume, needle tract"),
    LeakSite.PARAVERTEBRAL: _private("EXTRAVOL-PARA",
                                     "Extravertebral cement volume, paravertebral"),
}
SCORE_CORONAL = _private("SCORE-COR", "Coronal distribution score")
SCORE_SAGITTAL = _private("SCORE-SAG", "Sagittal distribution score")
SCORE_AXIAL = _private("SCORE-AX", "Axial distribution score")
SCORE_TOTAL = _private("SCORE-TOTAL", "Total distribution score")
CEMENT_AREA = AREA
TREATED_VERTEBRAE = _private("NTREATED", "Number of treated vertebrae")

# --- Qualitative evaluations: concept names and values ----------------------------
EXPECTED_DISTRIBUTION = _private("EXPDIST", "Expected cement distribution")
EXTENSIVE_EXPECTED = _private("EXTENSIVE", "Extensive distribution expected")
LIMITED_EXPECTED = _private("LIMITED", "Limited distribution expected")

CEMENT_LEAKAGE = _private("LEAK", "Cement leakage")
LEAKAGE_SITE = _private("LEAKSITE", "Cement leakage site")
LEAK_SITE_VALUES: dict[LeakSite, Code] = {
    LeakSite.DISC: _private("SITE-DISC", "Intervertebral disc"),
    LeakSite.CANAL: codes.SCT.VertebralCanal,  # SCT 61853006, CID 6115
    LeakSite.NEEDLE_TRACT: _private("SITE-TRACT", "Needle tract"),
    LeakSite.PARAVERTEBRAL: _private("SITE-PARA", "Paravertebral"),
}

DISTRIBUTION_GROUP = _private("GROUP", "Cement distribution group")
GROUP_VALUES: dict[Group, Code] = {
    Group.A: _private("GROUP-A", "Group A, limited distribution (score 0-7)"),
    Group.B: _private("GROUP-B", "Group B, extensive distribution (score 8-10)"),
}

CEMENT_FOUND = _private("CEMENTFOUND", "Bone cement in a vertebral body")
ANALYSIS_FLAG = _private("FLAG", "Analysis flag")
FLAG_VALUES: dict[Flag, Code] = {
    Flag.COARSE: _private("FLAG-COARSE", "Coarse slices"),
    Flag.NO_CEMENT_FOUND: _private("FLAG-NOCEMENT", "No cement found"),
    Flag.NO_BODY_AROUND_CEMENT: _private("FLAG-NOBODY",
                                         "Cement found, no vertebral body around it"),
    Flag.BODY_TOUCHES_FOV_EDGE: _private("FLAG-FOVEDGE",
                                         "Vertebral body touches field of view edge"),
    Flag.METAL_SUSPECTED: _private("FLAG-METAL", "Metal suspected"),
}

# --- Vertebra levels (SCT, CID 7603 "Vertebra") -----------------------------------
_LEVEL_KEYWORDS = (
    [f"C{i}Vertebra" for i in range(1, 8)]
    + [f"T{i}Vertebra" for i in range(1, 13)]
    + [f"L{i}Vertebra" for i in range(1, 6)]
)
LEVELS: dict[str, Code] = {
    keyword.removesuffix("Vertebra"): getattr(codes.SCT, keyword) for keyword in _LEVEL_KEYWORDS
}


def vertebra(level: str | None) -> Code:
    """The SNOMED CT code of a vertebra level such as ``"L1"``; ``Vertebra`` when unknown."""
    if level is None:
        return VERTEBRA
    return LEVELS.get(level.upper(), VERTEBRA)


def private_codes() -> list[Code]:
    """Every ``99VFNODE`` code defined here (for docs/sr.md and its test)."""
    found: list[Code] = []
    for value in globals().values():
        candidates = value.values() if isinstance(value, dict) else [value]
        for item in candidates:
            if isinstance(item, Code) and item.scheme_designator == SCHEME and item not in found:
                found.append(item)
    return found
