"""The case registry (SQLAlchemy): every analysed series, its results and clinical data.

``Registry(url)`` opens (and migrates) the database; see ``node.registry.registry``.
"""

from node.registry.cases import CaseRow, segment_of
from node.registry.clinical import ClinicalImportError
from node.registry.registry import AnalysisDetail, ImportSummary, Registry

__all__ = ["AnalysisDetail", "CaseRow", "ClinicalImportError", "ImportSummary", "Registry",
           "segment_of"]
