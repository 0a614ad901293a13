"""``vfnode phantom``: write synthetic postoperative spine CT cases with exact ground truth."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from node.config import Settings
from node.errors import VfnodeError
from node.phantom.case import write_case
from node.phantom.families import FAMILIES
from node.phantom.figures import case_figure
from node.phantom.sets import SETS, named_set

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "phantom", help="write synthetic postoperative spine CT cases with ground truth",
        description="Write one case (--seed, --family) or a named set (--set) into --out.")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of a single case")
    parser.add_argument("--family", default="no_leak", choices=sorted(FAMILIES),
                        help="family of a single case")
    parser.add_argument("--set", dest="set_name",
                        help=f"a named set: {', '.join(sorted(SETS))}")
    parser.add_argument("--small", action="store_true",
                        help="reduced matrix (256) and 3 vertebrae: fast, for tests")
    parser.add_argument("--figures", type=Path,
                        help="also write a PNG per case (axial, sagittal, coronal) here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    params = settings.analysis
    out: Path = args.out
    if args.set_name:
        try:
            entries = named_set(args.set_name)
        except ValueError as exc:
            raise VfnodeError(str(exc)) from exc
        index = []
        for entry in entries:
            summary = write_case(out / entry.case_id, entry.family, entry.seed,
                                 small=entry.small, case_id=entry.case_id, params=params,
                                 overrides=entry.overrides)
            index.append({"case_id": entry.case_id, "family": entry.family,
                          "seed": entry.seed, "seconds": round(summary.seconds, 2),
                          "slices": summary.slices, "treated_levels": summary.levels})
            _figure(args, summary.folder, entry.case_id)
        (out / "set.json").write_text(json.dumps({"set": args.set_name, "cases": index},
                                                 indent=2) + "\n")
        logger.info("phantom set=%s cases=%d out=%s", args.set_name, len(index), out)
        return 0
    summary = write_case(out, args.family, args.seed, small=args.small, params=params)
    _figure(args, summary.folder, summary.case_id)
    return 0


def _figure(args: argparse.Namespace, folder: Path, case_id: str) -> None:
    if args.figures:
        case_figure(folder, args.figures / f"{case_id}.png")
