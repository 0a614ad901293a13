"""Fuzzing: 10 000 mutated instances into the spool (header parse, durable write, index)
in-process, and 10 000 more over the network into a real ``vfnode serve``.

What must hold for every input: no exception other than the refusals the node defines
(``InvalidInstanceError``, ``SpoolError``), and every instance the node says it stored is
on disk byte for byte, indexed, and parses again. Over the network: the node answers
every request, Success only for what is indexed, logs the reason of every refusal, still
answers C-ECHO at the end, and its workers settle every stored series without a failure.
"""

from __future__ import annotations

import collections
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification

from node.storage import db
from node.storage.header import InvalidInstanceError, read_header
from node.storage.spool import Spool, SpoolError
from tests.peers.orthanc import wait_for
from tests.reliability.ctgen import ct_dataset
from tests.reliability.fuzz import Mutant, _mutate_element, encode, mutants
from tests.reliability.nodeproc import NodeProcess
from tests.reliability.sender import send_files

# pydicom warns about every nonsense value the mutations write and the node reads.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FUZZ_INPUTS = 10_000
NETWORK_INPUTS = 10_000


def seed_datasets() -> list[Dataset]:
    """Three small valid CT slices (and an MR-less variety: one with a long description)."""
    import numpy as np
    from pydicom.uid import generate_uid

    rng = np.random.default_rng(42)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    out = []
    for i in range(3):
        ds = ct_dataset(study_uid=study, series_uid=series, frame_uid=frame, index=i,
                        pixels=rng.integers(900, 1300, size=(16, 16), dtype=np.int16))
        out.append(ds)
    out[2].SeriesDescription = "fuzz seed with a longer description"
    return out


def indexed(data_dir: Path) -> dict[str, Path]:
    conn = sqlite3.connect(db.db_path(data_dir))
    try:
        return {sop: Path(path) for sop, path in
                conn.execute("SELECT sop_instance_uid, path FROM instances")}
    finally:
        conn.close()


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on tmpfs (/dev/shm) when there is one: fsync is free there, so the run
    measures parsing and indexing, not the disk (durability has its own tests)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="vfnode-fuzz-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def spool(fast_dir: Path) -> Iterator[Spool]:
    spool = Spool(fast_dir / "node", min_free_mb=0)
    yield spool
    spool.close()


def test_spool_survives_10000_mutants(spool: Spool, fast_dir: Path) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    crashes: list[tuple[Mutant, str]] = []
    stored: dict[str, bytes] = {}
    started = time.perf_counter()
    for mutant in mutants(seed_datasets(), FUZZ_INPUTS, seed=2024):
        try:
            result = spool.accept(mutant.data, calling_ae="FUZZER")
        except InvalidInstanceError:
            outcomes["refused: invalid"] += 1
        except SpoolError:
            outcomes["refused: spool error"] += 1
        except Exception as exc:  # the node must never fail any other way
            crashes.append((mutant, f"{type(exc).__name__}: {exc}"))
        else:
            outcomes["stored"] += 1
            stored[result.header.sop_instance_uid] = mutant.data
            assert result.path.read_bytes() == mutant.data, mutant.kind
    elapsed = time.perf_counter() - started
    print(f"spool fuzz: {FUZZ_INPUTS} inputs in {elapsed:.1f} s: {dict(outcomes)}; "
          f"{len(stored)} distinct SOP Instance UIDs stored")
    assert crashes == [], crashes[:5]
    assert sum(outcomes.values()) == FUZZ_INPUTS
    index = indexed(fast_dir / "node")
    assert set(stored) <= set(index)
    for sop, data in stored.items():
        # The last copy stored under a UID is the one on disk (the same UID again replaces
        # the file; a refused copy leaves it alone).
        assert read_header(index[sop].read_bytes()).sop_instance_uid == sop
        assert index[sop].read_bytes() == data, sop
    assert outcomes["stored"] > 100 and outcomes["refused: invalid"] > 1000, outcomes


def _associate(ae: AE, port: int) -> Any:
    assoc = ae.associate("127.0.0.1", port, ae_title="VFNODE")
    assert assoc.is_established, "the receiver must accept the fuzzing AE"
    # pynetdicom leaves Nagle on: ~21 ms per C-STORE without this.
    assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return assoc


def _send_raw(assoc: object, mutant: Mutant, folder: Path) -> int | None:
    """Send the mutant's bytes as they are (chunked sending streams the file body)."""
    path = folder / f"{mutant.index}.dcm"
    path.write_bytes(mutant.data)
    try:
        response = assoc.send_c_store(path)  # type: ignore[attr-defined]
    except (ValueError, AttributeError, TypeError, OSError):
        return None  # the mutation broke what the SCU itself needs (UIDs in the meta)
    finally:
        path.unlink()
    return int(response.Status) if response and "Status" in response else -1


def _jobs_settled(node: NodeProcess) -> bool:
    """No job queued or running, and no series waiting to become one."""
    open_jobs = node.query("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
    waiting = node.query("SELECT COUNT(*) FROM series WHERE changed > 0 AND analysable > 0")
    return open_jobs[0][0] == 0 and waiting[0][0] == 0


@pytest.mark.slow
@pytest.mark.peer
def test_node_survives_10000_network_mutants(fast_dir: Path) -> None:
    """10 000 mutants over one association (re-opened when the node drops it) into a real
    ``vfnode serve``; then every series the node stored is settled by its workers."""
    node = NodeProcess(fast_dir / "proc", allowed=("FUZZER", "ECHOSCU"), stable_seconds=1.0,
                       extra={"storage": {"data_dir": str(fast_dir / "node")}})
    node.start()
    _config.STORE_SEND_CHUNKED_DATASET = True
    ae = AE(ae_title="FUZZER")
    ae.dimse_timeout = 10
    for ds in seed_datasets()[:1]:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    ae.add_requested_context(Verification)
    statuses: collections.Counter[str] = collections.Counter()
    success: set[str] = set()
    lost: list[str] = []
    folder = fast_dir / "out"
    folder.mkdir()
    assoc = _associate(ae, node.port)
    started = time.perf_counter()
    try:
        for mutant in mutants(seed_datasets(), NETWORK_INPUTS, seed=7, keep_meta=True):
            if not assoc.is_established:
                statuses["association re-opened"] += 1
                assoc = _associate(ae, node.port)
            code = _send_raw(assoc, mutant, folder)
            if code == -1:  # no response: the association was lost on the way
                lost.append(f"{mutant.index} ({mutant.kind})")
            statuses["unsendable" if code is None else "no answer" if code == -1
                     else f"0x{code:04X}"] += 1
            if code == 0:
                success.add(read_header(mutant.data).sop_instance_uid)
        sending_s = time.perf_counter() - started
        assert assoc.is_established and assoc.send_c_echo().Status == 0
        assoc.release()
        assert node.alive() and node.echo()
        wait_for(lambda: _jobs_settled(node), 300, "every stored series must be settled",
                 interval=0.5)
        assert node.alive()
        jobs = node.query("SELECT state, outcome, last_error FROM jobs")
        stored = set(indexed(node.data_dir))
    finally:
        if assoc.is_established:
            assoc.abort()
        _config.STORE_SEND_CHUNKED_DATASET = False
        node.stop()
    refused = sum(n for k, n in statuses.items() if k.startswith("0x") and k != "0x0000")
    log = node.log()
    outcomes = collections.Counter(
        state if state == "failed" else outcome.split(":")[0] + ": " + (
            outcome.split(":")[1].split("(")[0].strip() if ":" in outcome else "")
        for state, outcome, _ in jobs)
    print(f"network fuzz into vfnode serve: {NETWORK_INPUTS} inputs in {sending_s:.1f} s "
          f"({NETWORK_INPUTS / sending_s:.0f}/s): {dict(statuses)}; {len(stored)} instances "
          f"indexed; {len(jobs)} jobs: {dict(outcomes)}; 'refused instance' log lines: "
          f"{log.count('refused instance')}; lost: {lost}")
    assert statuses["0x0000"] > 500, statuses
    assert success <= stored, "Success only for what is indexed"
    assert set(statuses) <= {"0x0000", "0xC210", "0xA700", "0x0110", "unsendable",
                             "no answer", "association re-opened"}, statuses
    # Open: about one run in three loses one association in 10 000 sends (the request gets
    # no response within the DIMSE timeout; pynetdicom 3.0.4 as a sender is known to do so,
    # see tests/reliability/sender.py). Not yet root-caused; tolerated once per run, shown.
    assert len(lost) <= 1, (lost, [ln for ln in log.splitlines() if "aborted" in ln][:10])
    assert log.count("refused instance") >= refused, "every refusal is logged with its reason"
    assert "Traceback" not in log, log[log.find("Traceback") - 2000:][:5000]
    assert [j for j in jobs if j[0] == "failed"] == [], [j for j in jobs if j[0] == "failed"]


HEADER_SERIES = 60


def _mutated_series(out: Path, index: int) -> list[Path]:
    """A 20-slice CT series whose header has 1-3 mutated elements, in every slice or in
    one; slices whose mutated values pydicom cannot write are left out."""
    import numpy as np
    from pydicom.uid import generate_uid

    rng = np.random.default_rng(1000 + index)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    slices = [ct_dataset(study_uid=study, series_uid=series, frame_uid=frame, index=i,
                         pixels=rng.integers(900, 1300, size=(32, 32), dtype=np.int16),
                         thickness_mm=2.0, patient_id=f"HDR-{index}")
              for i in range(20)]
    targets = slices if rng.random() < 0.5 else slices[:1]
    for ds in targets:
        element_rng = np.random.default_rng(index)  # the same mutation in every target
        for _ in range(int(element_rng.integers(1, 4))):
            _mutate_element(ds, element_rng)
    paths = []
    for i, ds in enumerate(slices):
        try:
            data = encode(ds)
        except Exception:  # a value pydicom cannot write: that slice is not sent
            continue
        path = out / f"{index:03d}-{i:02d}.dcm"
        path.write_bytes(data)
        paths.append(path)
    return paths


@pytest.mark.slow
@pytest.mark.peer
def test_series_with_mutated_headers_are_measured_or_not_with_a_reason(
        fast_dir: Path) -> None:
    """60 CT series with nonsense in random header elements into ``vfnode serve``: every
    series the node stored ends as a finished job (analysed, or not with the reason in
    its outcome), never as a failed one; the node logs no traceback."""
    out = fast_dir / "series"
    out.mkdir()
    node = NodeProcess(fast_dir / "proc", allowed=("LOADER", "ECHOSCU"), stable_seconds=1.0,
                       extra={"storage": {"data_dir": str(fast_dir / "node")},
                              "jobs": {"workers": 2}})
    node.start()
    statuses: collections.Counter[str] = collections.Counter()
    try:
        for index in range(HEADER_SERIES):
            log = send_files(_mutated_series(out, index), node.port)
            statuses.update("none" if c is None else f"0x{c:04X}" for c in log.status.values())
        wait_for(lambda: _jobs_settled(node), 300, "every stored series must be settled",
                 interval=0.5)
        assert node.alive() and node.echo()
        jobs = node.query("SELECT state, outcome, last_error FROM jobs")
    finally:
        node.stop()
    text = node.log()
    outcomes = collections.Counter(
        f"failed: {error[:80]}" if state == "failed" else outcome.split(":")[0]
        for state, outcome, error in jobs)
    print(f"header fuzz: {HEADER_SERIES} series, answers {dict(statuses)}; {len(jobs)} jobs: "
          f"{dict(outcomes)}")
    assert "none" not in statuses, statuses
    assert [j for j in jobs if j[0] == "failed"] == [], outcomes
    # The run reaches the analysis: some series are measured (15 of 60 when written; the
    # floor leaves room for changes in what the analysis accepts).
    assert outcomes["analysed"] >= HEADER_SERIES // 10 and len(outcomes) > 1, outcomes
    assert "Traceback" not in text, text[text.find("Traceback") - 2000:][:5000]
