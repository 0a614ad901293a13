"""From the fine render to a CT image: slice profile, streaks, correlated noise, clipping.

Also the series a study carries beside the thin bone series: a localizer and a thick
soft-tissue reformat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

from node.phantom._shapes import B8, F32
from node.phantom.geometry import F64, Grid

HU_MIN, HU_MAX = -1024.0, 3071.0


@dataclass(frozen=True, slots=True)
class Scanner:
    """Image quality of one acquisition."""

    noise_hu: float          # standard deviation of the image noise
    noise_cutoff: float      # noise power peak as a fraction of Nyquist (kernel sharpness)
    streak_per_mm: float     # streak amplitude per mm of dense cross-section width (HU)


def slice_profile(grid: Grid, fine: F32) -> F32:
    """CT slices as the mean of their sub-slices (a box slice-sensitivity profile)."""
    k = grid.fine
    if k == 1:
        return fine
    return np.asarray(fine.reshape(grid.shape[0], k, *grid.shape[1:]).mean(axis=1),
                      dtype=np.float32)


def per_slice(grid: Grid, fine_mask: B8) -> B8:
    """A fine-grid mask reduced to CT slices (any sub-slice)."""
    k = grid.fine
    return np.asarray(fine_mask.reshape(grid.shape[0], k, *grid.shape[1:]).any(axis=1))


def add_streaks(hu: F32, dense: B8, pixel_mm: float, strength: float,
                rng: np.random.Generator) -> None:
    """Radial bright/dark streaks around dense objects, slice by slice (in place)."""
    rows, cols = hu.shape[1:]
    rr = np.arange(rows, dtype=np.float32)[:, None]
    cc = np.arange(cols, dtype=np.float32)[None, :]
    orders = rng.integers(18, 70, size=6)
    phases = rng.uniform(0, 2 * np.pi, size=6)
    for i in np.nonzero(dense.reshape(len(dense), -1).any(axis=1))[0]:
        r_idx, c_idx = np.nonzero(dense[i])
        width_mm = np.sqrt(len(r_idx)) * pixel_mm
        amp = np.float32(strength * width_mm)
        cr, ccol = r_idx.mean(), c_idx.mean()
        dr, dc = rr - np.float32(cr), cc - np.float32(ccol)
        dist = np.sqrt(dr * dr + dc * dc) * np.float32(pixel_mm)
        theta = np.arctan2(dr, dc)
        pattern = np.zeros((rows, cols), dtype=np.float32)
        drift = rng.normal(0, 0.05, size=6)
        for n, ph, dd in zip(orders, phases, drift, strict=True):
            pattern += np.cos(theta * np.float32(n) + np.float32(ph + dd * i))
        pattern *= amp / np.float32(np.sqrt(len(orders)))
        pattern /= np.float32(1.0) + dist / np.float32(25.0)
        hu[i] += pattern


def add_noise(hu: F32, noise_hu: float, cutoff: float, rng: np.random.Generator) -> None:
    """Correlated noise with a filtered-back-projection-like power spectrum (in place)."""
    rows, cols = hu.shape[1:]
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.rfftfreq(cols)[None, :]
    f = np.sqrt(fx * fx + fy * fy) / 0.5
    shape = (f * np.exp(-(f / cutoff) ** 2)).astype(np.float32)
    amplitude = np.sqrt(shape)
    norm = np.sqrt((amplitude ** 2).mean() * 2)
    for start in range(0, len(hu), 16):
        block = rng.standard_normal((min(16, len(hu) - start), rows, cols), dtype=np.float32)
        spec = fft.rfft2(block, workers=2)
        spec *= amplitude
        noise = fft.irfft2(spec, s=(rows, cols), workers=2)
        hu[start:start + len(block)] += noise.astype(np.float32) * np.float32(noise_hu / norm)


def softened(hu: F32, pixel_mm: float, sigma_mm: float) -> F32:
    """The image as a softer reconstruction kernel makes it: blurred in-plane by a
    Gaussian of ``sigma_mm``."""
    return np.asarray(ndimage.gaussian_filter(hu, (0.0, sigma_mm / pixel_mm, sigma_mm / pixel_mm)),
                      dtype=np.float32)


def sharpened(hu: F32, pixel_mm: float, amount: float, sigma_mm: float = 1.0) -> F32:
    """The image as a sharper (edge-enhancing, bone) kernel makes it: in-plane unsharp
    masking, which over- and undershoots at every edge, darkest in a rim a millimetre or
    two around dense cement."""
    blurred = softened(hu, pixel_mm, sigma_mm)
    return np.asarray(hu + np.float32(amount) * (hu - blurred), dtype=np.float32)


def finish(hu: F32) -> F32:
    """Clip to the scanner's HU range."""
    return np.clip(hu, HU_MIN, HU_MAX, out=hu)


def outside_circle(rows: int, cols: int) -> B8:
    """Pixels outside the reconstruction circle."""
    r = np.arange(rows)[:, None] - (rows - 1) / 2
    c = np.arange(cols)[None, :] - (cols - 1) / 2
    return np.asarray(r * r + c * c > (min(rows, cols) / 2) ** 2)


def thick_reformat(hu: F32, affine: F64, thickness_mm: float) -> tuple[F32, F64]:
    """Axial soft-tissue slabs of ``thickness_mm``: averaged slices, smoothed in-plane."""
    spacing = float(np.linalg.norm(affine[:3, 0]))
    group = max(2, round(thickness_mm / spacing))
    n = len(hu) // group
    slabs = hu[:n * group].reshape(n, group, *hu.shape[1:]).mean(axis=1)
    slabs = ndimage.gaussian_filter(slabs, (0, 1.2, 1.2)).astype(np.float32)
    out = affine.copy()
    out[:3, 0] = affine[:3, 0] * group
    out[:3, 3] = affine[:3, 3] + affine[:3, 0] * (group - 1) / 2
    return slabs, out


def localizer(hu: F32, affine: F64) -> tuple[F32, F64]:
    """A frontal projection radiograph-like image (rows along the slice axis)."""
    attenuation = np.clip(hu + 1000.0, 0, None).mean(axis=1)     # sum along rows (AP)
    image = (attenuation / max(float(attenuation.max()), 1.0) * 2500.0 - 1000.0)
    out = np.eye(4)
    out[:3, 0] = affine[:3, 1]          # unused: a single plane
    out[:3, 1] = affine[:3, 0]          # image rows follow the slices
    out[:3, 2] = affine[:3, 2]
    out[:3, 3] = affine[:3, 3]
    return image.astype(np.float32)[None], out
