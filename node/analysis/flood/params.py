"""Sizes, contrasts and thresholds of the watershed body finder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

# A cortical wall seen on a profile: this much above the marrow and at least this bright.
WALL_RISE_HU = 50.0
WALL_MIN_HU = 180.0
# A faint endplate (a thin 400 HU cortex over dark marrow, blurred across 1-1.5 mm
# slices) peaks at 130-180 HU; looked for only when too few columns show a plate.
FAINT_PLATE_MIN_HU = 130.0
# The wall falls off within this distance; behind it the canal holds CSF, fat and soft
# tissue, never brighter than this.
WALL_FALL_MM = 4.0
CANAL_MAX_HU = 90.0
# On coarse scans a thin wall is no brighter than the marrow; then the drop from the
# marrow into the canal behind it is the wall.
WALL_FAINT_BELOW_MARROW_HU = 25.0
WALL_FAINT_DROP_HU = 100.0
WALL_PERCENTILE = 85.0
WALL_CLUSTER_MM = 4.0      # hits on one wall, concave or not, lie this close together
WALL_MIN_SPAN_MM = 8.0     # ...and are seen across this much of the canal's width
# The second look for the wall, from the body's own axes, stays this near the first.
WALL_SAME_MM = 5.0
MAX_STEP_MM = 1.0
# Marrow of an osteoporotic body, when too little bone surrounds the cement to measure it.
MARROW_DEFAULT_HU = 150.0
# Endplates are looked for on columns within DISC_COLUMNS_MM of the seed, up to
# DISC_REACH_MM away, beyond RIM_MM of cement (its sclerotic rim).
DISC_COLUMNS_MM = 12.0
DISC_REACH_MM = 30.0
DISC_SPREAD_MM = 5.0
DISC_SLAB_MM = (3.0, 4.5)
# Where no dark disc is seen: the next body's marrow beyond the band between them.
NEIGHBOUR_COLUMNS_MM = 8.0
NEIGHBOUR_REACH_MM = 40.0
NEIGHBOUR_SKIP_MM = 2.0      # beyond the painted cement: its blur on thick slices
NEIGHBOUR_BAND_HU = 50.0
NEIGHBOUR_MARROW_MM = 4.0
NEIGHBOUR_SLAB_MM = 1.5
# A body ends within its band; what lies this far beyond the band's peak (and a slice and
# a half on thick slices, where the peak sits anywhere within its slice) is the next body.
BAND_CUT_MM = 3.0
BAND_CUT_SLICES = 1.5
RIM_MM = 4.0
# The marrow level is read within this distance (mm) of the cement, outside its halo.
MARROW_RING_MM = 6.0
# The star-shaped view of a body: directions (polar from the superior axis x azimuth),
# the neighbourhood that judges each direction and what counts as sticking out.
POLAR_BINS = 60
AZIMUTH_BINS = 120
MAX_RADIUS_MM = 45.0
RAY_STEP_MM = 0.5
STAR_NEIGHBOURS = 9
ENVELOPE_NEIGHBOURS = 15
SPIKE_MM = 2.0
STAR_OUTLIER_MM = 1.5
STAR_OUTLIER_FRACTION = 0.08
# The outer edge of a wall is looked for this far inside and outside the first surface,
# its peak no farther out than EDGE_PEAK_BEYOND_MM, and only where it stands out.
EDGE_STEP_MM = 0.25
EDGE_SEARCH_MM = (3.0, 4.0)
EDGE_PEAK_BEYOND_MM = 1.0
EDGE_MIN_CONTRAST_HU = 60.0
# Cement against the shell: beyond the last sample at CEMENT_EDGE_HU, the shell still reads
# SHELL_MIN_HU SHELL_PROBE_MM (plus a quarter voxel) farther out; a leak's blurred edge has
# fallen to 150-300 HU there.
CEMENT_EDGE_HU = 1000.0
GAP_MM = 3.0
SHELL_PROBE_MM = 0.5
SHELL_PROBE_VOXELS = 0.25
SHELL_MIN_HU = 400.0
SHELL_SEARCH_MM = (2.0, 3.0)
# Cement up to an endplate: the flooding runs at most CEMENT_OVERRUN_MM beyond it, and
# less than CEMENT_MIN_OVERRUN_MM is the edge's own uncertainty; the cement's blurred
# edge still reads above a wall CEMENT_TAIL_MM (plus half a voxel) beyond its half-level.
CEMENT_OVERRUN_MM = 4.0
CEMENT_MIN_OVERRUN_MM = 1.0
CEMENT_TAIL_MM = 1.0
PLATE_CONE_DEG = 55.0       # a lumbar plate's rim lies 50-60 degrees off the body's axis
PLATE_AHEAD_MM = 3.0        # a plate this far beyond the surface: the flooding stopped short
PLATE_RESOLVED_MM = 1.25
GAUSS_TRUNCATE = 4.0
# Cement deeper than this inside its piece is certainly in the body it was injected into.
INSIDE_DEPTH_MM = 2.0
# A flooded disc is cut off beyond the plane of the endplate found on at least
# ENDPLATE_MIN_COLUMNS of the columns, ENDPLATE_AGREEING of them within 2 mm of it.
ENDPLATE_MIN_COLUMNS = 0.25
ENDPLATE_AGREEING = 0.5
ENDPLATE_MARGIN_MM = 2.0
ENDPLATE_CUT_MIN_ML = 1.0
NEAR_PLATE_AGREEING = 0.3    # hits on the body's own plate where the next one's show too
NEAR_PLATE_BEFORE = 0.15     # ...and hits before it (sclerotic rim, cleft walls)
PLATE_CLEAR_MM = 2.0         # ...and of those, some this far (or a slice) from the paint
NEAR_PLATE_CLEAR = 0.25
NEAR_PLATE_DISC_MM = 4.0     # the next body's plate lies a disc beyond
NEAR_PLATE_DISC_SLICES = 1.5  # ...more than the steps of a slanted plate across slices
PLATE_BEYOND_MM = (1.0, 2.5)
DISC_SOFT_MAX_HU = 130.0      # a disc's soft tissue is no brighter
BRIGHT_DISC_MM = 2.5          # a disc brighter than dark marrow: this long before the plate,
BRIGHT_DISC_CLEAR_MM = 1.5    # ...clear of that plate's blur,
BRIGHT_DISC_ABOVE_MARROW_HU = 40.0  # ...this much above the marrow,
BRIGHT_DISC_NOISE_HU = 20.0   # ...and no brighter than a disc (with noise),
BRIGHT_DISC_PAINT_MM = 4.0    # ...nor this near painted cement
# Scans this coarse: the voxels next to the cement are partly cement (see
# _partial_volume_halo). On finer scans that halo would paint the endplates too.
COARSE_SCAN_MM = 2.5
RETRY_SLICE_RATIO = 2.5
RETRY_ADDED_CEMENT = 0.01
RETRY_LOST = 0.02         # a retry that holds the body: all but this much of it...
RETRY_GROWN = 0.2         # ...grown by this much...
RETRY_EDGE_TIE = 0.05     # ...on an edge at most this much less sharp is the whole body
# A body this much cement may have been held at the cement's blur (noise, a soft kernel):
# a retry that keeps all but HELD_LOST of it and grows by RETRY_GROWN, adding at most
# HELD_ADDED_CEMENT cement, wins on an edge at most HELD_EDGE_TIE less sharp.
HELD_MIN_CEMENT = 0.35
HELD_LOST = 0.05
HELD_ADDED_CEMENT = 0.06
HELD_EDGE_TIE = 0.1
PARTLY_CEMENT_ABOVE_MARROW_HU = 120.0   # a few per cent of cement in the voxel
HELD_HALO_MM = 2.0      # painted over a body still held at its cement (a soft kernel's blur)
# ...and over a seed that gave no body, when its cement is an injection, not a leak
# (a disc leak flooded with that much painted over takes the disc for a body).
HELD_RESCUE_MIN_ML = 0.5


@dataclass(frozen=True, slots=True)
class FloodParams:
    """Anatomical sizes (mm) and contrasts (HU) of the watershed body finder."""

    half_extent_mm: float = 42.0        # the largest lumbar body from any inner point
    step_mm: float = 0.7                # isotropic grid (coarser when the pixels are)
    smooth_mm: float = 0.8              # trabecular texture, not the shell
    halo_mm: float = 1.2                # cement plus its partial-volume halo (fine scans)
    retry_halo_pixels: float = 2.0      # ...or this many pixels, flooded again (large pixels)
    seed_radius_mm: float = 3.0
    outside_below_hu: float = -60.0     # fat and gas are never body
    outside_margin_hu: float = 120.0    # ...nor anything this much darker than marrow
    outside_min_mm: float = 1.5         # ...that is thicker than a streak artifact
    outside_min_ml: float = 1.5         # ...and larger than gas in a fracture cleft
    soft_margin_hu: float = 35.0        # soft tissue: this much darker than marrow...
    soft_max_hu: float = 75.0           # ...and no brighter than muscle
    soft_smooth_mm: float = 2.0         # ...on average over this scale...
    soft_min_mm: float = 2.5            # ...and thicker than this
    soft_clear_mm: float = 10.0         # ...or, retried in marrow that dark, this far from cement
    # The posterior wall from the centre; from behind it too, since the first pass starts
    # at the seed, which may lie in cement against the wall.
    canal_band_mm: tuple[float, float] = (-8.0, 30.0)
    canal_probe_mm: float = 8.0         # canal: dark for this long behind the wall
    opening_mm: float = 1.5             # thin bridges through gaps into neighbours
    min_volume_ml: float = 5.0         # a disc leak flooded on its own makes ~3 ml
    max_volume_ml: float = 150.0
    min_height_mm: float = 8.0
    max_height_mm: float = 50.0
