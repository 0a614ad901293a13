"""Figures of a case for the documentation: axial slice through the cement and mid-sagittal
and mid-coronal reformats in a bone window, with the truth contours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from node.phantom.dicom import read_series
from node.phantom.truth import load_truth

WINDOW = (500.0, 2000.0)   # bone window: centre, width


def _resample(hu: np.ndarray, affine: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Order axis 0 from cranial to caudal (display convention) for a reformat."""
    if affine[2, 0] > 0:
        return hu[::-1], masks[::-1]
    return hu, masks


def case_figure(case_dir: Path, out_png: Path, title: str = "") -> None:
    """Write a 3-panel PNG (axial through the cement, mid-sagittal, mid-coronal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = load_truth(case_dir)
    hu, affine, uids = read_series(case_dir / "ct")
    order = [truth.masks.slice_sop_instance_uids.index(u) for u in uids]
    body = truth.masks.body_labels[order] > 0
    cement = truth.masks.cement[order]
    lo, hi = WINDOW[0] - WINDOW[1] / 2, WINDOW[0] + WINDOW[1] / 2
    if cement.any():
        k = int(np.argmax(cement.sum(axis=(1, 2))))
        rows, cols = np.nonzero(body.any(axis=0) | cement.any(axis=0))
    else:
        k = int(np.argmax(body.sum(axis=(1, 2))))
        rows, cols = np.nonzero(body.any(axis=0))
    r_mid, c_mid = int(np.median(rows)), int(np.median(cols))
    half = int(65.0 / float(np.linalg.norm(affine[:3, 1])))   # a 130 mm window
    r0, c0 = max(0, r_mid - half), max(0, c_mid - half)
    hu, body, cement = (a[:, r0:r_mid + half, c0:c_mid + half] for a in (hu, body, cement))
    r_mid, c_mid = r_mid - r0, c_mid - c0
    hu_d, both = _resample(hu, affine, np.stack([body, cement], axis=1))
    body_d, cement_d = both[:, 0], both[:, 1]
    dz = float(np.linalg.norm(affine[:3, 0]))
    dp = float(np.linalg.norm(affine[:3, 1]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.4))
    panels = [
        (f"axial (slice {k})", hu[k], body[k], cement[k], 1.0),
        ("mid-sagittal", hu_d[:, :, c_mid], body_d[:, :, c_mid], cement_d[:, :, c_mid], dz / dp),
        ("mid-coronal", hu_d[:, r_mid, :], body_d[:, r_mid, :], cement_d[:, r_mid, :], dz / dp),
    ]
    for ax, (name, image, b, c, aspect) in zip(axes, panels, strict=True):
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        if b.any():
            ax.contour(b, levels=[0.5], colors="lime", linewidths=0.6)
        if c.any():
            ax.contour(c, levels=[0.5], colors="red", linewidths=0.6)
        ax.set_title(name)
        ax.set_axis_off()
    fig.suptitle(title or truth.case_id)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
