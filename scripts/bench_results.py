"""Time SR + SEG + summary image against the analysis of the same series.

Usage:
    scripts/bench_results [--case DIR] [--slice-mm 0.4] [--docs docs/sr]

Without --case a two-level phantom (``vfnode`` phantom family ``two_levels``, seed 1,
512 x 512) is generated with a slice spacing that gives about 300 slices. With --docs the
figures of docs/sr.md are written too: the dsrdump text of the SR, the summary image and
the SEG drawn over the CT.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.analysis.pipeline import analyze_series  # noqa: E402
from node.analysis.types import Analysis, Parameters  # noqa: E402
from node.results.build import make_context, result_filename  # noqa: E402
from node.results.context import Device  # noqa: E402
from node.results.seg import build_seg, plan_segments  # noqa: E402
from node.results.sr import build_sr  # noqa: E402
from node.results.summary import build_summary  # noqa: E402
from tests.unit.results.phantom_case import analysis_from_truth  # noqa: E402


def make_phantom(folder: Path, slice_mm: float) -> Path:
    from node.phantom.case import write_case

    write_case(folder, "two_levels", 1, overrides=(("slice_mm", slice_mm), ("matrix", 512)))
    return folder


def timed(label: str, table: list[tuple[str, float]], func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func(*args, **kwargs)
    table.append((label, time.perf_counter() - start))
    return value


def build_all(analysis: Analysis, sources: list[pydicom.Dataset], out: Path,
              table: list[tuple[str, float]]) -> list[pydicom.Dataset]:
    context = timed("results: context (order, UIDs, key slices)", table, make_context,
                    analysis, sources, device=Device(), options={})
    plans = plan_segments(context)
    seg = timed("results: SEG", table, build_seg, context, plans, series_number=9901)
    sr = timed("results: SR", table, build_sr, context, series_number=9900)
    summary = timed("results: summary image", table, build_summary, context,
                    series_number=9902)
    objects = [seg, sr, summary]
    out.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        for ds in objects:
            ds.save_as(out / result_filename(ds), enforce_file_format=True)

    timed("results: write 3 files", table, write)
    return objects


def seg_over_ct(analysis: Analysis, sources: list[pydicom.Dataset], seg_path: Path,
                target: Path) -> None:
    """The SEG read back by highdicom, drawn over its CT key slices (matplotlib)."""
    import highdicom as hd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    seg = hd.seg.segread(seg_path)
    uids = list(analysis.slice_sop_instance_uids)
    keys = [v.key_slice for v in make_context(analysis, sources, device=Device(),
                                                options={}).vertebrae]
    figure = Figure(figsize=(6 * len(keys), 6.4), dpi=100, facecolor="black")
    FigureCanvasAgg(figure)
    for n, k in enumerate(keys, start=1):
        ax = figure.add_subplot(1, len(keys), n)
        ct = sources[k].pixel_array * float(sources[k].RescaleSlope) + float(
            sources[k].RescaleIntercept)
        ax.imshow(np.clip((ct + 500) / 2000, 0, 1), cmap="gray")
        rows, columns = np.nonzero(np.asarray(analysis.body_labels)[k])
        half = 45.0 / float(sources[k].PixelSpacing[0])  # 45 mm around the body centre
        ax.set_xlim(columns.mean() - half, columns.mean() + half)
        ax.set_ylim(rows.mean() + half, rows.mean() - half)
        frames = seg.get_pixels_by_source_instance([uids[k]], assert_missing_frames_are_empty=True)
        for number, item in enumerate(seg.SegmentSequence, start=1):
            mask = frames[0, :, :, number - 1] > 0
            if not mask.any():
                continue
            rgb = hd.color.CIELabColor.from_dicom_value(
                tuple(item.RecommendedDisplayCIELabValue)).to_rgb()
            colour = ListedColormap([np.asarray(rgb) / 255.0])
            ax.imshow(np.ma.masked_where(~mask, mask), cmap=colour, alpha=0.55,
                      interpolation="nearest")
            ax.contour(mask, levels=[0.5], colors=[np.asarray(rgb) / 255.0], linewidths=1.2)
            ax.text(0.02, 0.98 - 0.05 * number, item.SegmentLabel, fontsize=13,
                    color=np.asarray(rgb) / 255.0, transform=ax.transAxes)
        ax.set_title(f"SEG over CT, slice {k + 1}", color="white")
        ax.set_axis_off()
    figure.savefig(target, facecolor="black")


def write_figures(analysis: Analysis, sources: list[pydicom.Dataset], out: Path,
                  docs: Path) -> None:
    """dsrdump text, summary PNG and SEG-over-CT PNG of the objects in ``out``."""
    from PIL import Image

    docs.mkdir(parents=True, exist_ok=True)
    sr = next(out.glob("SR_*.dcm"))
    dump = subprocess.run(["dsrdump", "+Pc", str(sr)], capture_output=True, text=True,
                          check=True).stdout
    (docs / "dsrdump_two_levels.txt").write_text(dump)
    summary = pydicom.dcmread(next(out.glob("OT_*.dcm")))
    Image.fromarray(summary.pixel_array).save(docs / "summary_two_levels.png")
    order = {uid: i for i, uid in enumerate(analysis.slice_sop_instance_uids)}
    ordered = sorted(sources, key=lambda ds: order.get(ds.SOPInstanceUID, -1))
    ordered = [ds for ds in ordered if ds.SOPInstanceUID in order]
    seg_over_ct(analysis, ordered, next(out.glob("SEG_*.dcm")), docs / "seg_over_ct.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, help="a phantom case folder (with ct/)")
    parser.add_argument("--slice-mm", type=float, default=0.4)
    parser.add_argument("--docs", type=Path, help="write the figures of docs/sr.md here")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vfnode-bench-") as scratch:
        case = args.case or make_phantom(Path(scratch) / "case", args.slice_mm)
        table: list[tuple[str, float]] = []
        files = sorted((case / "ct").glob("*"))
        sources = timed("read CT headers", table, lambda: [pydicom.dcmread(p) for p in files])
        analysis = timed("analysis (analyze_series)", table, analyze_series, sources,
                         Parameters(), software_version="bench")
        out = Path(scratch) / "out"
        build_all(analysis, sources, out, table)
        # Again in the same process: what a running node pays (imports and highdicom's
        # standard tables are loaded once per process).
        runs: list[list[tuple[str, float]]] = []
        for _ in range(args.repeat):
            runs.append([])
            build_all(analysis, sources, out, runs[-1])
        warm = [(label, float(np.median([dict(run)[label] for run in runs])))
                for label, _ in runs[0]]
        shape = np.asarray(analysis.cement).shape
        print(f"series {shape[0]} x {shape[1]} x {shape[2]}, levels "
              f"{len(analysis.result.levels)}")
        print(f"{'step':<45} {'first':>9} {'again':>9}  (again: median of {args.repeat})")
        again = dict(warm)
        for label, seconds in table:
            second = f"{again[label]:7.2f} s" if label in again else ""
            print(f"{label:<45} {seconds:7.2f} s {second:>9}")
        analysis_s = dict(table)["analysis (analyze_series)"]
        for name, rows in (("first", table), ("again", warm)):
            results = sum(s for label, s in rows if label.startswith("results"))
            print(f"results total ({name}){'':<29} {results:7.2f} s  "
                  f"({100 * results / analysis_s:.0f} % of the analysis)")
        if args.docs:
            truth = analysis_from_truth(case)
            build_all(truth, sources, out / "truth", [])
            write_figures(truth, sources, out / "truth", args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
