"""The spool on its own: durable write, index, duplicates, refusals, start-up reconcile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from node.storage.spool import InvalidInstanceError, Spool, SpoolFullError
from tests.net.dicomgen import WrittenSeries


def series_row(spool: Spool, uid: str) -> tuple[int, int, int]:
    with spool.state.reading() as conn:
        row = conn.execute("SELECT instances, analysable, changed FROM series "
                           "WHERE series_instance_uid = ?", (uid,)).fetchone()
    return tuple(row)  # type: ignore[return-value]


def test_accept_writes_file_and_index(tmp_path: Path, series: WrittenSeries) -> None:
    spool = Spool(tmp_path / "var", min_free_mb=0)
    for path in series.paths:
        stored = spool.accept(path.read_bytes(), calling_ae="SENDER")
        assert stored.new
        assert stored.path.read_bytes() == path.read_bytes()
        assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    assert [p.stem for p in spool.series_paths(series.series_uid)] == sorted(series.sop_uids)
    assert series_row(spool, series.series_uid) == (12, 12, 1)
    assert list((tmp_path / "var" / "spool" / "tmp").iterdir()) == []


def test_same_instance_twice_is_harmless(tmp_path: Path, series: WrittenSeries) -> None:
    spool = Spool(tmp_path / "var", min_free_mb=0)
    first = spool.accept(series.paths[0].read_bytes(), calling_ae="A")
    again = spool.accept(series.paths[0].read_bytes(), calling_ae="A")
    assert (first.new, again.new) == (True, False)
    assert first.path == again.path
    assert series_row(spool, series.series_uid) == (1, 1, 1)


@pytest.mark.parametrize(("mangle", "match"), [
    (lambda b: b[:-1000], "pixel data must fit in the bytes received"),
    (lambda b: b[:132] + b"\xff" * 400, "must parse as DICOM|must be a valid UID"),
    (lambda b: b"not dicom at all", "must parse as DICOM"),
])
def test_malformed_bytes_are_refused(tmp_path: Path, series: WrittenSeries, mangle: object,
                                     match: str) -> None:
    spool = Spool(tmp_path / "var", min_free_mb=0)
    with pytest.raises(InvalidInstanceError, match=match):
        spool.accept(mangle(series.paths[0].read_bytes()), calling_ae="A")  # type: ignore[operator]
    assert spool.series_paths(series.series_uid) == []


def test_full_spool_refuses(tmp_path: Path, series: WrittenSeries) -> None:
    spool = Spool(tmp_path / "var", min_free_mb=10**9)
    with pytest.raises(SpoolFullError, match="must keep 1000000000 MB free"):
        spool.accept(series.paths[0].read_bytes(), calling_ae="A")
    assert not any((tmp_path / "var" / "spool").glob("*/*/*.dcm"))


def test_reconcile_indexes_orphans_and_drops_partials(tmp_path: Path,
                                                      series: WrittenSeries) -> None:
    spool = Spool(tmp_path / "var", min_free_mb=0)
    stored = spool.accept(series.paths[0].read_bytes(), calling_ae="A")
    orphan = stored.path.parent / f"{series.sop_uids[1]}.dcm"
    orphan.write_bytes(series.paths[1].read_bytes())  # a file renamed in, then a crash
    partial = spool.tmp / "dead.part"
    partial.write_bytes(b"half")
    spool.close()
    reopened = Spool(tmp_path / "var", min_free_mb=0)
    assert reopened.reconcile() == 1
    assert not partial.exists()
    assert len(reopened.series_paths(series.series_uid)) == 2
    assert reopened.reconcile() == 0


def test_reconcile_finishes_a_complete_temporary_file(tmp_path: Path,
                                                      series: WrittenSeries) -> None:
    spool = Spool(tmp_path / "var", min_free_mb=0)
    # fsynced and acknowledged, but the rename was lost (power cut before it reached disk)
    (spool.tmp / "lost-rename.part").write_bytes(series.paths[2].read_bytes())
    spool.close()
    reopened = Spool(tmp_path / "var", min_free_mb=0)
    assert reopened.reconcile() == 1
    assert [p.stem for p in reopened.series_paths(series.series_uid)] == [series.sop_uids[2]]
    assert list(reopened.tmp.iterdir()) == []
