"""How the naive baseline does on a phantom set: VF% errors against the truth.

``python -m node.phantom.report SET_DIR [--update docs/phantoms.md]`` prints a Markdown
table and, with ``--update``, replaces the part of the document between
``<!-- baseline:start -->`` and ``<!-- baseline:end -->``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from node.analysis.baseline import naive_baseline
from node.analysis.types import LevelResult, Parameters
from node.phantom.dicom import read_series
from node.phantom.truth import load_truth

START, END = "<!-- baseline:start -->", "<!-- baseline:end -->"


@dataclass(frozen=True, slots=True)
class LevelError:
    case_id: str
    family: str
    level: str
    truth_vf: float
    baseline_vf: float

    @property
    def error(self) -> float:
        return self.baseline_vf - self.truth_vf


def _match(truth: LevelResult, found: tuple[LevelResult, ...]) -> float:
    """VF% of the baseline level nearest to the true body centroid (0 when none)."""
    if not found:
        return 0.0
    distances = [np.linalg.norm(np.subtract(lv.centroid_mm, truth.centroid_mm)) for lv in found]
    return found[int(np.argmin(distances))].vf_pct


def case_errors(case_dir: Path, params: Parameters) -> list[LevelError]:
    """Baseline VF% against truth for every treated level of one case."""
    truth = load_truth(case_dir)
    hu, affine, _ = read_series(case_dir / "ct")
    found = naive_baseline(hu, affine, params=params).levels
    return [LevelError(truth.case_id, truth.family, lv.level or "?", lv.vf_pct,
                       _match(lv, found)) for lv in truth.result.levels]


def table(errors: list[LevelError]) -> str:
    """Markdown table per family and overall."""
    groups: dict[str, list[LevelError]] = defaultdict(list)
    for e in errors:
        groups[e.family].append(e)
    lines = ["| family | treated levels | truth VF% mean | baseline VF% mean | "
             "mean abs error | worst abs error |", "| --- | --- | --- | --- | --- | --- |"]
    for name, rows in [*sorted(groups.items()), ("**all**", errors)]:
        abs_err = [abs(e.error) for e in rows]
        lines.append(f"| {name} | {len(rows)} | {np.mean([e.truth_vf for e in rows]):.2f} | "
                     f"{np.mean([e.baseline_vf for e in rows]):.2f} | {np.mean(abs_err):.2f} | "
                     f"{max(abs_err):.2f} |")
    within = sum(abs(e.error) <= 1.0 for e in errors)
    lines.append("")
    lines.append(f"Levels within 1 VF point: {within} of {len(errors)}.")
    return "\n".join(lines)


def update(doc: Path, text: str) -> None:
    content = doc.read_text()
    if START not in content or END not in content:
        raise ValueError(f"{doc} must hold the markers {START} and {END}.")
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--update", type=Path, help="Markdown file to update in place")
    args = parser.parse_args(argv)
    params = Parameters()
    errors: list[LevelError] = []
    for case in sorted(p.parent for p in args.set_dir.glob("*/truth.json")):
        errors.extend(case_errors(case, params))
    if not errors:
        print(f"No treated level found under {args.set_dir}.", file=sys.stderr)
        return 1
    text = table(errors)
    print(text)
    if args.update:
        update(args.update, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
