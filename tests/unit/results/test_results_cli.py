"""``vfnode analyze PATH --out DIR`` writes the result objects of each analysed series."""

from __future__ import annotations

import argparse
from pathlib import Path

import pydicom
from synthetic_ct import Grid, make_case

from node.cli.analyze import register, run
from node.config.settings import ResultSettings, Settings


def test_analyze_out_writes_sr_seg_and_summary(tmp_path: Path, capsys) -> None:
    _, sources = make_case("two_levels", Grid(slices=60, size=96, pixel_mm=0.8, slice_mm=1.0))
    ct = tmp_path / "ct"
    ct.mkdir()
    for ds in sources:
        ds.save_as(ct / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["analyze", str(ct), "--json", "--out", str(tmp_path / "out")])
    settings = Settings(results=ResultSettings(series_number_base=700))
    assert run(args, settings) == 0
    printed = capsys.readouterr().out
    written = {p.name.split("_")[0]: pydicom.dcmread(p) for p in (tmp_path / "out").iterdir()}
    assert {"SR", "OT"} <= set(written)
    assert written["SR"].SeriesNumber == 700 and written["OT"].SeriesNumber == 702
    assert written["SR"].StudyInstanceUID == sources[0].StudyInstanceUID
    levels = printed.count('"vbv_ml"')
    assert ("SEG" in written) == (levels > 0)
