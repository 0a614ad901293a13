"""A real vfnode receiver on loopback against a real SCU (pynetdicom) and the spool."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydicom import dcmread

from node.config.settings import Destination
from node.net import scp, status
from node.net.scu import AssociationError, echo, send_files
from tests.net.conftest import Receiver, start
from tests.net.dicomgen import LOOPBACK, WrittenSeries, truncate_pixels


def test_echo(receiver: Receiver) -> None:
    assert echo(receiver.address, calling_ae="SENDER") == status.SUCCESS


def test_store_series_then_files_match_and_are_indexed(receiver: Receiver,
                                                       series: WrittenSeries) -> None:
    report = send_files(list(series.paths), receiver.address, calling_ae="SENDER")
    assert len(report.stored) == 12 and not report.unanswered
    stored = receiver.spool.series_paths(series.series_uid)
    assert sorted(p.stem for p in stored) == sorted(series.sop_uids)
    for path in stored:
        original = series.paths[series.sop_uids.index(path.stem)]
        on_disk, sent = dcmread(path), dcmread(original)
        assert on_disk.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
        assert on_disk.PixelData == sent.PixelData


def test_malformed_instance_fails_while_the_rest_is_stored(
        receiver: Receiver, series: WrittenSeries, tmp_path: Path) -> None:
    bad_rows = dcmread(series.paths[1])
    bad_rows.Rows = 99  # Pixel Data no longer matches Rows x Columns
    bad_rows.SOPInstanceUID = bad_rows.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5"
    bad_rows.save_as(tmp_path / "rows.dcm")
    truncated = truncate_pixels(series.paths[0], tmp_path / "cut.dcm")
    files = [truncated, tmp_path / "rows.dcm", *series.paths[2:]]
    report = send_files(files, receiver.address, calling_ae="SENDER")
    assert report.refused == {truncated: status.CANNOT_UNDERSTAND,
                              tmp_path / "rows.dcm": status.CANNOT_UNDERSTAND}
    assert len(report.stored) == 10
    stored = {p.stem for p in receiver.spool.series_paths(series.series_uid)}
    assert stored == set(series.sop_uids[2:])


def test_unknown_calling_ae_is_refused_and_logged(receiver: Receiver,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="node.net.scp"), \
            pytest.raises(AssociationError, match="rejected the association"):
        echo(receiver.address, calling_ae="INTRUDER")
    assert 'calling AE "INTRUDER" is not in net.allowed_calling_aes' in caplog.text


def test_wrong_called_ae_is_refused(receiver: Receiver) -> None:
    wrong = Destination("NOT_VFNODE", LOOPBACK, receiver.net.port)
    with pytest.raises(AssociationError, match="rejected the association"):
        echo(wrong, calling_ae="SENDER")


def test_pinned_ae_only_from_its_host(tmp_path: Path) -> None:
    node = start(tmp_path / "var", allowed_calling_aes=["CT1", "CT2"],
                 allowed_hosts=["CT1=10.9.9.9", "CT2=127.0.0.1"])
    try:
        assert echo(node.address, calling_ae="CT2") == status.SUCCESS
        with pytest.raises(AssociationError, match="rejected the association"):
            echo(node.address, calling_ae="CT1")
    finally:
        node.server.shutdown()  # type: ignore[attr-defined]


def test_full_disk_answers_out_of_resources(tmp_path: Path, series: WrittenSeries) -> None:
    node = start(tmp_path / "var", min_free_mb=10**9)
    try:
        report = send_files(list(series.paths[:2]), node.address, calling_ae="ANY")
        assert set(report.refused.values()) == {status.OUT_OF_RESOURCES}
        assert node.spool.series_paths(series.series_uid) == []
    finally:
        node.server.shutdown()  # type: ignore[attr-defined]


def test_two_servers_share_one_listening_socket(tmp_path: Path, series: WrittenSeries) -> None:
    first = start(tmp_path / "var")
    second = scp.start_receiver(first.net, first.spool, first.server.socket)  # type: ignore[attr-defined]
    try:
        for _ in range(4):
            assert echo(first.address, calling_ae="ANY") == status.SUCCESS
        report = send_files(list(series.paths), first.address, calling_ae="ANY")
        assert len(report.stored) == 12
    finally:
        second.shutdown()
        first.server.shutdown()  # type: ignore[attr-defined]
