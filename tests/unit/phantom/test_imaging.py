"""The reconstruction-kernel changes that scripts/robustness applies to the phantoms."""

from __future__ import annotations

import numpy as np

from node.phantom import imaging

PIXEL_MM = 0.5


def _cement_edge() -> np.ndarray:
    """Three slices of marrow (200 HU) with dense cement (2500 HU) in the left half."""
    hu = np.full((3, 64, 64), 200.0, dtype=np.float32)
    hu[:, :, :32] = 2500.0
    return hu


def test_a_sharper_kernel_undershoots_beside_the_cement_and_leaves_flat_marrow_alone() -> None:
    out = imaging.sharpened(_cement_edge(), PIXEL_MM, amount=1.0)
    rim = out[1, 32, 32:36]           # the first 2 mm of marrow beside the cement
    assert rim.min() < 200.0 - 100.0
    assert out[1, 32, 28:32].max() > 2500.0 + 100.0
    np.testing.assert_allclose(out[1, 32, 50:60], 200.0, atol=1.0)
    np.testing.assert_array_equal(out[:, :, :], out[[1, 1, 1], :, :])   # in-plane only


def test_a_softer_kernel_spreads_the_edge_and_keeps_the_mean() -> None:
    hu = _cement_edge()
    out = imaging.softened(hu, PIXEL_MM, sigma_mm=0.8)
    assert 200.0 < out[1, 32, 32] < 2500.0 and 200.0 < out[1, 32, 33] < 2500.0
    assert np.all(np.diff(out[1, 32, 20:44]) <= 0.0)        # no overshoot
    np.testing.assert_allclose(out[1, 32, 50:60], 200.0, atol=1.0)
    assert abs(float(out.mean()) - float(hu.mean())) < 1.0
