"""Families and named sets: what each family builds, and what the sets cover."""

from __future__ import annotations

import numpy as np
import pytest

from node.analysis.select import MIN_SLICES
from node.phantom.families import FAMILIES, sample_design
from node.phantom.generate import _rng, build_grid, build_scene
from node.phantom.sets import named_set


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_builds_its_treated_levels_and_leaks(family: str) -> None:
    n_treated, sites, _ = FAMILIES[family]
    for seed in range(3):
        scene = build_scene(family, seed)
        assert len(scene.plans) == n_treated
        assert bool(scene.screws) == (family == "screws")
        assert 3 <= len(scene.spine) <= 5
        for plan in scene.plans:
            assert 0 < plan.vertebra < len(scene.spine) - 1   # a neighbour on each side
            assert 0.08 <= plan.vf_target <= 0.45
            assert 0.10 <= scene.spine[plan.vertebra].body.wedge <= 0.33
        if sites and sites[0] != "venous":
            assert sites[0] in {leak.site.value for leak in scene.plans[0].leaks}


def test_vertebrae_are_stacked_cranial_to_caudal_without_overlap() -> None:
    scene = build_scene("two_levels", 7)
    z = [v.center[2] for v in scene.spine]
    assert z == sorted(z, reverse=True)
    for up, low in zip(scene.spine[:-1], scene.spine[1:], strict=True):
        gap = np.linalg.norm(up.center - low.center)
        assert gap > (up.body.h_post + low.body.h_post) / 2 + 2.5


def test_unknown_family_and_set_are_refused() -> None:
    with pytest.raises(ValueError, match='"family" must be one of'):
        sample_design("kyphoplasty", np.random.default_rng(0))
    with pytest.raises(ValueError, match="A phantom set must be one of"):
        named_set("huge")


def test_dev_set_covers_every_family_and_acquisition_variant() -> None:
    entries = named_set("dev")
    assert len(entries) >= 30
    assert {e.family for e in entries} == set(FAMILIES)
    assert len({e.case_id for e in entries}) == len(entries)
    forced = [dict(e.overrides) for e in entries]
    assert {o["slice_mm"] for o in forced} == {0.625, 1.0, 1.25, 2.5}
    assert {o["storage"] for o in forced} == {"unsigned", "signed", "signed0"}
    assert any(o["feet_first"] for o in forced) and not all(o["feet_first"] for o in forced)
    assert any("oblique_deg" in o for o in forced)
    smoke = named_set("smoke")
    assert 3 <= len(smoke) <= 4 and all(e.small for e in smoke)


def test_holdout_set_has_the_dev_design_and_none_of_its_seeds() -> None:
    dev, holdout = named_set("dev"), named_set("holdout")
    assert [(e.family, e.overrides) for e in holdout] == [(e.family, e.overrides) for e in dev]
    assert not {e.seed for e in dev} & {e.seed for e in holdout}
    assert all(e.case_id.startswith("holdout-") for e in holdout)


def test_fresh_set_has_the_dev_design_and_seeds_of_no_other_set() -> None:
    dev, fresh = named_set("dev"), named_set("fresh")
    assert [(e.family, e.overrides) for e in fresh] == [(e.family, e.overrides) for e in dev]
    others = {e.seed for name in ("dev", "holdout", "shifted") for e in named_set(name)}
    assert not {e.seed for e in fresh} & others


def test_a_short_spine_on_thick_slices_still_makes_a_series() -> None:
    # canal_leak seed 713 (three small thoracic vertebrae, 2.5 mm slices) spanned 19
    # images before the scan was widened: too few for any series the node analyses.
    scene = build_scene("canal_leak", 713)
    grid = build_grid(scene, _rng("canal_leak", 713 + 1_000_003))   # write_case's draw
    assert grid.shape[0] >= MIN_SLICES


def test_shifted_set_has_every_family_on_coarse_pixels_and_thick_slices() -> None:
    dev, shifted = named_set("dev"), named_set("shifted")
    assert [e.family for e in shifted] == [e.family for e in dev]
    forced = [dict(e.overrides) for e in shifted]
    assert {o["pixel_mm"] for o in forced} == {0.9, 1.0}
    assert {o["slice_mm"] for o in forced} == {2.0, 3.0}
    for family in {e.family for e in shifted}:
        mine = [o for e, o in zip(shifted, forced, strict=True) if e.family == family]
        assert {o["slice_mm"] for o in mine} == {2.0, 3.0}
    others = {e.seed for e in dev} | {e.seed for e in named_set("holdout")}
    assert not {e.seed for e in shifted} & others
