"""One small generated case shared by the phantom tests (generated once per session)."""

from __future__ import annotations

import pytest

from node.phantom.case import CaseSummary, write_case


@pytest.fixture(scope="session")
def small_case(tmp_path_factory: pytest.TempPathFactory) -> CaseSummary:
    """A reduced (256 x 256, three vertebrae) case with a disc leak."""
    folder = tmp_path_factory.mktemp("phantom") / "case"
    return write_case(folder, "disc_leak", 12, small=True)
