"""Bad input through the network into a running ``vfnode serve``: truncated files, wrong
pixel data length, missing geometry, inconsistent spacing, a one-slice series, non-CT
objects, huge or nonsense values, path-like UIDs. The node never crashes, never answers
Success for what it did not store, and says in its log why it refused an instance or did
not analyse a series."""

from __future__ import annotations

import collections
import sqlite3
from pathlib import Path

import pytest

from node.storage.header import read_header
from tests.reliability.badinput import BadCase, write_all
from tests.reliability.nodeproc import NodeProcess
from tests.reliability.sender import send_files

pytestmark = pytest.mark.peer


def _jobs_settled(node: NodeProcess, series: set[str]) -> bool:
    rows = node.query("SELECT series_instance_uid, state FROM jobs")
    states = {uid: state for uid, state in rows}
    return series <= set(states) and all(states[uid] in ("done", "failed") for uid in series)


def test_bad_input_is_refused_or_not_analysed_with_a_reason(tmp_path: Path) -> None:
    cases = write_all(tmp_path / "bad", seed=31)
    node = NodeProcess(tmp_path / "node", stable_seconds=1.0)
    node.start()
    try:
        answers: dict[str, list[int | None]] = {}
        for case in cases:
            log = send_files(case.paths, node.port)
            answers[case.name] = [log.status[p] for p in case.paths]
        assert node.echo() and node.alive()
        indexed = dict(node.query("SELECT sop_instance_uid, path FROM instances"))
        analysable = {uid for (uid,) in node.query(
            "SELECT series_instance_uid FROM series WHERE analysable > 0")}
        from tests.peers.orthanc import wait_for
        wait_for(lambda: _jobs_settled(node, analysable), 120,
                 "every stored analysable series must be settled", interval=0.5)
        assert node.alive()
        jobs = node.query("SELECT series_instance_uid, state, outcome, last_error FROM jobs")
    finally:
        node.stop()
    text = node.log()
    report = []
    for case in cases:
        codes = answers[case.name]
        shown = collections.Counter("none" if c is None else f"0x{c:04X}" for c in codes)
        report.append(f"{case.name}: {len(codes)} instances, answers {dict(shown)}")
        _check_case(case, codes, indexed, text)
    outcome = {uid: (state, why or error) for uid, state, why, error in jobs}
    for case in cases:
        if case.series_uid in analysable:
            state, why = outcome[case.series_uid]
            # A flaw found at analysis is an outcome with its reason, never a failed job.
            assert state == "done" and why.startswith(("not analysed", "not analysable")), (
                case.name, state, why)
            assert case.series_uid in text
            if case.name == "nonsense_values":  # Pixel Spacing "abc\\-1e308" on one slice
                assert why.startswith('not analysable: "PixelSpacing" of instance'), why
            report.append(f"{case.name}: job {state}: {why}")
    print("\n".join(report))


def _check_case(case: BadCase, codes: list[int | None], indexed: dict[str, str],
                text: str) -> None:
    assert None not in codes, f"{case.name}: every request must be answered: {codes}"
    if not case.may_store:
        assert all(code != 0 for code in codes), f"{case.name} must be refused: {codes}"
    for path, sop, code in zip(case.paths, case.sop_uids, codes, strict=True):
        if code == 0:
            stored = Path(indexed[sop])
            assert read_header(stored.read_bytes()).sop_instance_uid == sop
        else:
            assert sop not in indexed, f"{case.name}: refused {path.name} must not be indexed"
    refusals = sum(1 for code in codes if code != 0)
    assert text.count("refused instance") >= refusals


def test_log_lines_name_the_reason(tmp_path: Path) -> None:
    """The reasons a PACS admin reads, one per kind of refusal (checked on a real run)."""
    cases = {case.name: case for case in write_all(tmp_path / "bad", seed=37)}
    node = NodeProcess(tmp_path / "node", stable_seconds=1.0)
    node.start()
    try:
        for name in ("truncated", "wrong_pixel_length", "bad_uids", "non_ct"):
            send_files(cases[name].paths, node.port)
    finally:
        node.stop()
    text = node.log()
    assert "The pixel data must fit in the bytes received" in text
    assert "Pixel Data must hold Rows x Columns" in text
    assert '"SOPInstanceUID" must be a valid UID. Found "../../etc/passwd"' in text
    assert "not analysed (not a CT image)" in text
    with sqlite3.connect(node.data_dir / "node.db") as conn:
        paths = [row[0] for row in conn.execute("SELECT path FROM instances")]
    assert all(Path(p).resolve().is_relative_to(node.data_dir.resolve()) for p in paths)
