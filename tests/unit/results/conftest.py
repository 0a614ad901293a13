"""Synthetic cases and their result objects, built once per test session."""

from __future__ import annotations

import pytest
from results_cases import Built, build


@pytest.fixture(scope="session")
def one_level() -> Built:
    return build("one_level")


@pytest.fixture(scope="session")
def two_levels() -> Built:
    return build("two_levels")


@pytest.fixture(scope="session")
def two_levels_volumetric() -> Built:
    return build("two_levels", volumetric_sr_groups=True)


@pytest.fixture(scope="session")
def no_cement() -> Built:
    return build("no_cement")


@pytest.fixture(scope="session", params=["one_level", "two_levels", "no_cement"])
def any_case(request: pytest.FixtureRequest) -> Built:
    return request.getfixturevalue(request.param)
