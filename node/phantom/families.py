"""Case families and the random design of one case (everything drawn from its seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from node.analysis.types import LeakSite

# Family -> (treated levels, leak sites of the (first) treated level, description)
FAMILIES: dict[str, tuple[int, tuple[str, ...], str]] = {
    "no_leak": (1, (), "one treated level, all cement inside the body"),
    "needle_tract": (1, (LeakSite.NEEDLE_TRACT.value,),
                     "cement left in the needle track through the pedicle(s)"),
    "disc_leak": (1, (LeakSite.DISC.value,), "cement leaked into the disc above or below"),
    "paravertebral_leak": (1, (LeakSite.PARAVERTEBRAL.value,),
                           "a lump of cement beside the anterior or lateral wall"),
    "venous_leak": (1, ("venous",), "thin streaks of cement in segmental or plexus veins"),
    "canal_leak": (1, (LeakSite.CANAL.value,), "epidural cement behind the posterior wall"),
    "two_levels": (2, (), "two treated levels, each with its own cement"),
    "no_cement": (0, (), "negative: a fractured vertebra without cement"),
    "screws": (0, (), "negative: a pedicle screw pair (metal, not cement)"),
}

SLICE_CHOICES = (0.625, 0.625, 0.625, 0.625, 1.0, 1.0, 1.25, 1.25, 2.5, 2.5)


@dataclass(frozen=True, slots=True)
class Design:
    """Discrete choices of one case."""

    family: str
    n_vertebrae: int
    treated: tuple[int, ...]          # positions in the segment (0 = most cranial)
    fractured: int                    # position of the fractured body in negative cases
    leak_sites: tuple[str, ...]
    extra_tract: bool                 # a needle track besides the family's leak
    bipedicular: tuple[bool, ...]
    matrix: int
    pixel_mm: float
    slice_mm: float
    feet_first: bool
    oblique_deg: tuple[float, float, float]
    storage: str                      # "unsigned", "signed", "signed0"
    coronal_reformat: bool
    thoracic_bias: float


def sample_design(family: str, rng: np.random.Generator, *, small: bool = False) -> Design:
    """Draw the choices of a case of ``family``; ``small`` gives a fast reduced case."""
    if family not in FAMILIES:
        raise ValueError(f'"family" must be one of {sorted(FAMILIES)}. Found "{family}".')
    n_treated, sites, _ = FAMILIES[family]
    n = 3 if small else int(rng.integers(3, 6))
    treated: tuple[int, ...]
    if n_treated == 2:
        n = max(n, 4)
        first = int(rng.integers(1, n - 2))
        treated = (first, first + 1 if rng.uniform() < 0.7 or first + 2 >= n - 1 else first + 2)
    elif n_treated == 1:
        treated = (int(rng.integers(1, n - 1)),)
    else:
        treated = ()
    oblique = (0.0, 0.0, 0.0)
    if rng.uniform() < 0.25:
        oblique = tuple(float(v) for v in rng.uniform(-12, 12, 3))  # type: ignore[assignment]
    return Design(
        family=family, n_vertebrae=n, treated=treated,
        fractured=int(rng.integers(1, n - 1)),
        leak_sites=sites,
        extra_tract=bool(rng.uniform() < 0.25),
        bipedicular=tuple(bool(rng.uniform() < 0.5) for _ in range(max(1, len(treated)))),
        matrix=256 if small else 512,
        pixel_mm=float(rng.uniform(0.5, 0.6) if small else rng.uniform(0.3, 0.8)),
        slice_mm=float(rng.choice([1.0, 1.25]) if small else rng.choice(SLICE_CHOICES)),
        feet_first=bool(rng.uniform() < 0.3),
        oblique_deg=oblique,
        storage=str(rng.choice(["unsigned", "unsigned", "signed", "signed0"])),
        coronal_reformat=bool(rng.uniform() < 0.35),
        thoracic_bias=0.25,
    )
