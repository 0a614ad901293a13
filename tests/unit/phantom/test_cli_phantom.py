"""``vfnode phantom`` writes a case folder (a small negative case, to stay fast)."""

from __future__ import annotations

import json
from pathlib import Path

from node.cli.main import main


def test_cli_writes_one_case(tmp_path: Path) -> None:
    out = tmp_path / "case"
    assert main(["phantom", "--out", str(out), "--seed", "3", "--family", "no_cement",
                 "--small"]) == 0
    record = json.loads((out / "truth.json").read_text())
    assert record["family"] == "no_cement" and record["seed"] == 3
    assert record["levels"] == [] and "no_cement_found" in record["flags"]
    assert (out / "truth_masks.npz").is_file()
    assert {p.name for p in out.iterdir() if p.is_dir()} >= {"ct", "localizer", "reformat"}
