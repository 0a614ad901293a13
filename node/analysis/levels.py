"""Naming treated levels (spec: "its level such as L1, when it can be named").

A level can only be named by counting vertebrae from a landmark that the series shows
with certainty (the sacrum, the last rib-bearing vertebra, C2). A short postoperative
scan of three to five vertebrae rarely shows one, and a wrong name is worse than none,
so the node reports ``null`` unless the vertebra carries a name that cannot be wrong.
Today no landmark detector is trusted enough: every level is reported unnamed.
"""

from __future__ import annotations

from collections.abc import Sequence

from node.analysis.bodies import Body
from node.analysis.volume import CtVolume


def name_levels(volume: CtVolume, bodies: Sequence[Body]) -> list[str | None]:
    """A name such as ``"L1"`` for each body when it can be named, else None."""
    del volume
    return [None for _ in bodies]
