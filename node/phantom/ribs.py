"""Ribs of the thoracic vertebrae: head at the disc, tubercle at the transverse process,
shaft curving round the chest wall and sloping down toward the front."""

from __future__ import annotations

import itertools

import numpy as np

from node.phantom.anatomy import Vertebra, is_thoracic
from node.phantom.cement import Part
from node.phantom.torso import Torso


def rib_segments(rng: np.random.Generator, spine: list[Vertebra], torso: Torso) -> list[Part]:
    """Capsule segments (patient LPS, mm) of both ribs of every thoracic vertebra."""
    segments: list[Part] = []
    for v in spine:
        if not is_thoracic(v.name):
            continue
        floating = v.name in ("T11", "T12")
        for side in (-1.0, 1.0):
            tp = next(o for o in v.posterior.others if o[0][0] * side > 0 and o[3] == 1.0
                      and abs(o[1][2] - o[0][2]) < 3)  # transverse process (flat in z)
            head = np.array([side * v.body.a * 0.95, v.body.b * 0.45, v.body.h_post / 2])
            tubercle = np.array(tp[1]) + np.array([side * 2.0, 2.0, -1.0])
            pts = [v.to_patient(head), v.to_patient(tubercle)]
            # Shaft: round an ellipse inside the chest wall, from the back to the front.
            cx = v.center[0]
            cy = v.center[1] + torso.posterior_mm - torso.semi_y
            ax = torso.semi_x - torso.fat_mm - 14.0
            ay = torso.semi_y - torso.fat_mm * 0.7 - 14.0
            start = np.arctan2((pts[1][1] - cy) / ay, side * (pts[1][0] - cx) / ax)
            stop = np.deg2rad(rng.uniform(-10, 25) if floating else rng.uniform(-60, -20))
            drop = rng.uniform(0.25, 0.45)
            for angle in np.linspace(start, stop, 9)[1:]:
                p = np.array([cx + side * ax * np.cos(angle), cy + ay * np.sin(angle), 0.0])
                p[2] = pts[-1][2] - drop * np.linalg.norm(p[:2] - pts[-1][:2])
                pts.append(p)
            radius = float(rng.uniform(2.4, 3.2))
            for a, b in itertools.pairwise(pts):
                segments.append(Part(a=(float(a[0]), float(a[1]), float(a[2])),
                                     b=(float(b[0]), float(b[1]), float(b[2])), radius=radius))
    return segments
