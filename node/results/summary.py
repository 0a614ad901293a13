"""The summary key image: a Secondary Capture any PACS viewer shows.

A sagittal reformat through the treated vertebrae, the key axial slice of each
vertebra with the body, the cement inside it and the extravertebral cement outlined,
and the numbers and findings printed beside them.
"""

from __future__ import annotations

import logging
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from node.results._dicom import copy_patient_study, dicom_date_time, series_description, stamp
from node.results._summary_text import summary_lines
from node.results.context import ResultContext, Vertebra
from node.results.seg import BODY_COLOURS, CEMENT_COLOUR, EXTRAVERTEBRAL_COLOUR
from node.results.uids import Kind

logger = logging.getLogger(__name__)

WIDTH_PX, HEIGHT_PX, DPI = 1600, 900, 100
BONE_WINDOW = (400.0, 1800.0)  # level, width (HU)
MARGIN_MM = 25.0
MAX_AXIAL_PANELS = 3
LINE_STEP = 0.0029  # text panel height per point of font size


def _hu(image: Dataset, region: tuple[slice | int, ...] = ()) -> npt.NDArray[np.float32]:
    """Hounsfield units of ``region`` of one CT image (rescaled after cropping)."""
    slope = float(image.get("RescaleSlope", 1.0))
    intercept = float(image.get("RescaleIntercept", 0.0))
    return np.asarray(image.pixel_array[region], dtype=np.float32) * slope + intercept


def _windowed(hu: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    level, width = BONE_WINDOW
    return np.asarray(np.clip((hu - (level - width / 2)) / width, 0.0, 1.0), dtype=np.float32)


def _rgb(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    return (colour[0] / 255, colour[1] / 255, colour[2] / 255)


def _letter(direction: npt.NDArray[np.float64]) -> str:
    """Patient direction letter of a vector (LPS): L/R, P/A, S/I."""
    axis = int(np.argmax(np.abs(direction)))
    positive = direction[axis] > 0
    return [("L", "R"), ("P", "A"), ("S", "I")][axis][0 if positive else 1]


def _dicom_letter(direction: npt.NDArray[np.float64]) -> str:
    """Patient Orientation letter (A, P, R, L, H, F) of a vector (LPS)."""
    return {"S": "H", "I": "F"}.get(_letter(direction), _letter(direction))


def _opposite(letter: str) -> str:
    return {"L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"}[letter]


def _bounds(mask: npt.NDArray[np.bool_], margin: tuple[int, ...],
            shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Bounding box of ``mask`` widened by ``margin`` voxels per axis, clipped to ``shape``."""
    if not mask.any():
        return tuple(slice(0, n) for n in shape)
    found = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        found.append(slice(max(0, int(idx[0]) - margin[axis]),
                           min(shape[axis], int(idx[-1]) + 1 + margin[axis])))
    return tuple(found)


def _outline(ax: Axes, mask: npt.NDArray[np.bool_], colour: tuple[int, int, int],
             width: float = 1.6) -> None:
    if mask.any() and not mask.all():
        ax.contour(mask.astype(np.float32), levels=[0.5], colors=[_rgb(colour)],
                   linewidths=width)


def _marks(ax: Axes, left: str, right: str, top: str, bottom: str) -> None:
    for x, y, letter, va, ha in ((0.01, 0.5, left, "center", "left"),
                                 (0.99, 0.5, right, "center", "right"),
                                 (0.5, 0.99, top, "top", "center"),
                                 (0.5, 0.01, bottom, "bottom", "center")):
        ax.text(x, y, letter, transform=ax.transAxes, va=va, ha=ha, color="white",
                fontsize=13, fontweight="bold")


def _axial_panel(ax: Axes, context: ResultContext, vertebra: Vertebra | None) -> None:
    sources = context.sources
    k = vertebra.key_slice if vertebra else len(sources) // 2
    spacing = [float(v) for v in sources[0].PixelSpacing]
    hu = _hu(sources[k])
    window = tuple(slice(0, n) for n in hu.shape)
    if vertebra is not None:
        body = context.body(vertebra.index, (k,))
        extra = context.extravertebral(vertebra.index, (k,))
        margin = (int(MARGIN_MM / spacing[0]), int(MARGIN_MM / spacing[1]))
        window = _bounds(body | extra, margin, hu.shape)
    ax.imshow(_windowed(hu[window]), cmap="gray", vmin=0, vmax=1,
              aspect=spacing[0] / spacing[1], interpolation="bilinear")
    if vertebra is not None:
        colour = BODY_COLOURS[(vertebra.index - 1) % len(BODY_COLOURS)]
        _outline(ax, body[window], colour)
        _outline(ax, (body & context.cement[k])[window], CEMENT_COLOUR)
        _outline(ax, extra[window], EXTRAVERTEBRAL_COLOUR)
        z = float(sources[k].ImagePositionPatient[2])
        ax.set_title(f"{vertebra.name}: key axial slice (z = {z:.1f} mm)", color="white",
                     fontsize=15, loc="left")
    else:
        ax.set_title("Middle axial slice", color="white", fontsize=15, loc="left")
    orientation = np.asarray(sources[0].ImageOrientationPatient, dtype=np.float64)
    right, down = _letter(orientation[:3]), _letter(orientation[3:])
    _marks(ax, _opposite(right), right, _opposite(down), down)
    ax.set_axis_off()


def _sagittal_column(context: ResultContext) -> int:
    """Image column with the most cement inside the treated bodies (middle column without)."""
    if not context.vertebrae:
        return int(context.sources[0].Columns) // 2
    boxes = [context.body_box(v.index) for v in context.vertebrae]
    region = tuple(slice(min(b[a].start for b in boxes if b), max(b[a].stop for b in boxes if b))
                   for a in range(3))
    treated = context.labels[region] > 0
    per_column = np.count_nonzero(treated & context.cement[region], axis=(0, 1))
    return region[2].start + int(np.argmax(per_column))


def _sagittal_panel(ax: Axes, context: ResultContext) -> None:
    sources, affine = context.sources, np.asarray(context.analysis.affine, dtype=np.float64)
    column = _sagittal_column(context)
    slice_mm = float(np.linalg.norm(affine[:3, 0]))
    row_mm = float(sources[0].PixelSpacing[0])
    labels = context.labels[:, :, column]
    extra = context.extravertebral_labels[:, :, column]
    shape = (len(sources), int(sources[0].Rows))
    window = _bounds((labels > 0) | (extra > 0),
                     (int(2 * MARGIN_MM / slice_mm), int(MARGIN_MM / row_mm)), shape)
    if not context.vertebrae:
        window = (slice(0, shape[0]), slice(0, shape[1]))
    ks = range(window[0].start, window[0].stop)
    image = np.stack([_hu(sources[k], (window[1], column)) for k in ks])
    flip = affine[2, 0] > 0  # superior at the top

    def shown(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a[::-1] if flip else a

    ax.imshow(shown(_windowed(image)), cmap="gray", vmin=0, vmax=1,
              aspect=slice_mm / row_mm, interpolation="bilinear")
    cement = context.cement[window[0], window[1], column]
    for vertebra in context.vertebrae:
        body = labels[window] == vertebra.index
        colour = BODY_COLOURS[(vertebra.index - 1) % len(BODY_COLOURS)]
        _outline(ax, shown(body), colour)
        _outline(ax, shown(body & cement), CEMENT_COLOUR)
        _outline(ax, shown(extra[window] == vertebra.index), EXTRAVERTEBRAL_COLOUR)
        row = vertebra.key_slice - window[0].start
        row = len(ks) - 1 - row if flip else row
        ax.axhline(row, color=_rgb(colour), linestyle="--", linewidth=1.0)
        ax.text(2, row - 1, f"{vertebra.name} key slice", color=_rgb(colour), fontsize=12,
                va="bottom")
    orientation = np.asarray(sources[0].ImageOrientationPatient, dtype=np.float64)
    back = _letter(orientation[3:])
    ax.set_title("Sagittal reformat", color="white", fontsize=15, loc="left")
    _marks(ax, _opposite(back), back, "S", "I")
    ax.set_axis_off()


def render_summary(context: ResultContext) -> npt.NDArray[np.uint8]:
    """The summary as an (rows, columns, 3) uint8 RGB array."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="black")
    canvas = FigureCanvasAgg(figure)
    shown = context.vertebrae[:MAX_AXIAL_PANELS]
    rows = max(1, len(shown))
    grid = figure.add_gridspec(rows, 3, width_ratios=(1.0, 1.0, 1.35), left=0.01, right=0.99,
                               top=0.95, bottom=0.02, wspace=0.04, hspace=0.12)
    _sagittal_panel(figure.add_subplot(grid[:, 0]), context)
    for row, vertebra in enumerate(shown or [None]):
        _axial_panel(figure.add_subplot(grid[row, 1]), context, vertebra)
    text = figure.add_subplot(grid[:, 2])
    text.set_axis_off()
    lines = summary_lines(context)
    # Shrink the text (never below 70 %) when many vertebrae would overflow the panel.
    scale = max(0.7, min(1.0, 0.96 / sum(line.size * LINE_STEP for line in lines)))
    y = 1.0
    for line in lines:
        text.text(0.0, y, line.text, color=line.colour, fontsize=line.size * scale,
                  fontweight="bold" if line.bold else "normal", va="top", ha="left",
                  transform=text.transAxes, family="DejaVu Sans")
        y -= line.size * LINE_STEP * scale
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[:, :, :3])


def build_summary(context: ResultContext, *, series_number: int) -> hd.sc.SCImage:
    """The RGB Secondary Capture of the summary, in the CT's study."""
    pixels = render_summary(context)
    source = context.sources[0]
    orientation = np.asarray(source.ImageOrientationPatient, dtype=np.float64)
    content_date, content_time = dicom_date_time(context.created)
    image = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source,
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=context.uids.series(Kind.SUMMARY),
        series_number=series_number,
        sop_instance_uid=context.uids.instance(Kind.SUMMARY),
        instance_number=context.version,
        manufacturer=context.device.manufacturer,
        # Of the axial panels; the sagittal panel is labelled on the image itself.
        patient_orientation=(_dicom_letter(orientation[:3]), _dicom_letter(orientation[3:])),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        series_description=series_description("VF% summary", source),
        manufacturer_model_name=context.device.model_name,
        software_versions=context.software_version,
        device_serial_number=context.device.serial_number,
        content_date=content_date,
        content_time=content_time,
        series_date=content_date,
        series_time=content_time,
        institution_name=context.device.institution_name,
    )
    copy_patient_study(source, image)
    stamp(image, context.created)
    image.BurnedInAnnotation = "NO"  # numbers and findings only, no patient identity
    image.ImageLaterality = "U"  # the spine is unpaired
    if source.get("BodyPartExamined"):
        image.BodyPartExamined = source.BodyPartExamined
    logger.info("built summary sop=%s size=%dx%d", image.SOPInstanceUID, pixels.shape[1],
                pixels.shape[0])
    return image
