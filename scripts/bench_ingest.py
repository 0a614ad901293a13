"""Ingest benchmark: vfnode serve against Orthanc and dcmtk storescp, side by side.

Every receiver and every ``storescu`` runs with ``TCP_NODELAY=1`` in its environment
(dcmtk 3.6.7 and Orthanc 1.10 leave Nagle's algorithm on otherwise). Each receiver is
started fresh, with empty storage, for every run; a run is ``storescu`` sending a
300-slice 512 x 512 series (one association), or four such series of four studies at
once (four associations). Rates are instances per second over the wall time of the
senders. The latency part sends a phantom study through ``vfnode serve`` to a
``storescp`` acting as PACS and times last instance acknowledged -> SR and SEG stored.

Usage: scripts/bench_ingest [--runs N] [--slices N] [--skip-latency] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.net.dicomgen import free_port, write_series  # noqa: E402

VFNODE = Path(os.environ.get("BENCH_VFNODE", ROOT / ".venv" / "bin" / "vfnode"))
ENV = {**os.environ, "TCP_NODELAY": "1"}
LOOPBACK = "127.0.0.1"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- ingest:begin -->", "<!-- ingest:end -->"


@dataclass(frozen=True, slots=True)
class Peer:
    name: str
    ae_title: str
    start: Callable[[Path, int], subprocess.Popen[bytes]]


def _echo_ok(ae: str, port: int) -> bool:
    done = subprocess.run(["echoscu", "-aec", ae, LOOPBACK, str(port)], env=ENV,
                          capture_output=True, check=False)
    return done.returncode == 0


def _wait_ready(ae: str, port: int, process: subprocess.Popen[bytes], log: Path,
                needs: int = 0) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{ae} exited at start: {log.read_text()[-2000:]}")
        text = log.read_text() if needs else ""
        # vfnode: every receiver listening and the worker done importing (no start-up
        # work left to compete with the benchmark)
        ready = not needs or (text.count("listening ae_title") >= needs
                              and "worker ready" in text)
        if ready and _echo_ok(ae, port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{ae} on port {port} did not answer C-ECHO within 60 s")


def start_vfnode(receivers: int, *, stable_seconds: float = 3600.0,
                 destinations: str = "") -> Callable[[Path, int], subprocess.Popen[bytes]]:
    def start(folder: Path, port: int) -> subprocess.Popen[bytes]:
        env = {**ENV, "VFNODE_OUTBOX_DESTINATIONS": destinations,
               "VFNODE_JOBS_POLL_SECONDS": "0.5"}
        log = folder / "vfnode.log"
        process = subprocess.Popen(
            [str(VFNODE), "serve", "--port", str(port), "--bind", LOOPBACK, "--data-dir",
             str(folder / "var"), "--receivers", str(receivers), "--stable-seconds",
             str(stable_seconds)], cwd=folder, env=env, stdout=log.open("wb"),
            stderr=subprocess.STDOUT)
        _wait_ready("VFNODE", port, process, log, needs=receivers)
        return process
    return start


def start_orthanc(folder: Path, port: int) -> subprocess.Popen[bytes]:
    config = {
        "Name": "bench", "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"), "HttpPort": free_port(),
        "DicomPort": port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": False,
        "Plugins": [], "SyncStorageArea": True, "StorageCompression": False,
        "DicomAlwaysAllowStore": True, "DicomCheckCalledAet": False,
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config))
    log = folder / "orthanc.log"
    process = subprocess.Popen(["Orthanc", str(path)], env=ENV, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    _wait_ready("ORTHANC", port, process, log)
    return process


def start_storescp(folder: Path, port: int) -> subprocess.Popen[bytes]:
    out = folder / "received"
    out.mkdir()
    log = folder / "storescp.log"
    process = subprocess.Popen(["storescp", "--fork", "-aet", "STORESCP", "-od", str(out),
                                str(port)], env=ENV, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    _wait_ready("STORESCP", port, process, log)
    return process


@contextmanager
def running(peer: Peer, scratch: Path) -> Iterator[int]:
    folder = Path(tempfile.mkdtemp(prefix=f"{peer.name}-", dir=scratch))
    port = free_port()
    process = peer.start(folder, port)
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if peer.name != "vfnode":  # keep the latency run's log and database
            shutil.rmtree(folder, ignore_errors=True)


def send(ae: str, port: int, folders: list[Path]) -> float:
    """Wall seconds until every ``storescu`` (one per folder, at once) has finished."""
    started = time.perf_counter()
    senders = [subprocess.Popen(["storescu", "+sd", "-aec", ae, LOOPBACK, str(port),
                                 str(folder)], env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE) for folder in folders]
    for sender in senders:
        _, err = sender.communicate()
        if sender.returncode != 0:
            raise RuntimeError(f"storescu to {ae} failed: {err.decode()[-500:]}")
    return time.perf_counter() - started


def measure_once(peer: Peer, studies: list[Path], associations: int, slices: int,
                 scratch: Path) -> float:
    """Instances per second of one run on a freshly started receiver."""
    with running(peer, scratch) as port:
        seconds = send(peer.ae_title, port, studies[:associations])
    return associations * slices / seconds


def make_studies(scratch: Path, slices: int) -> list[Path]:
    folders = []
    for index in range(4):
        folder = scratch / f"study{index}"
        write_series(folder, slices=slices, seed=100 + index, size=512)
        folders.append(folder)
    return folders


def ingest(args: argparse.Namespace, scratch: Path) -> list[str]:
    studies = make_studies(scratch, args.slices)
    peers = {
        "vfnode (1 receiving process)": Peer("vfnode1", "VFNODE", start_vfnode(1)),
        "vfnode (2 receiving processes, default)": Peer("vfnode2", "VFNODE", start_vfnode(2)),
        "Orthanc 1.10 (SQLite, SyncStorageArea)": Peer("orthanc", "ORTHANC", start_orthanc),
        "dcmtk storescp --fork": Peer("storescp", "STORESCP", start_storescp),
    }
    plan = [(name, associations) for associations in (1, 2, 4) for name in peers
            if associations != 2 or name.startswith("vfnode")]
    runs: dict[tuple[str, int], list[float]] = {key: [] for key in plan}
    # Rounds over every configuration, so that a burst of other work on the machine hits
    # one run of each configuration rather than every run of one.
    for round_ in range(args.runs):
        for name, associations in plan:
            rate = measure_once(peers[name], studies, associations, args.slices, scratch)
            runs[name, associations].append(rate)
            print(f"round {round_ + 1} {name:45s} {associations} association(s): "
                  f"{rate:7.0f} instances/s", flush=True)
    rates = {key: statistics.median(values) for key, values in runs.items()}
    return ingest_table(rates, peers, args)


def ingest_table(rates: dict[tuple[str, int], float], peers: dict[str, Peer],
                 args: argparse.Namespace) -> list[str]:
    orthanc = "Orthanc 1.10 (SQLite, SyncStorageArea)"
    storescp = "dcmtk storescp --fork"
    lines = [
        f"Median of {args.runs} runs, each on a freshly started receiver with empty storage; "
        f"{args.slices} x 512 x 512 CT slices (512 KB each) per study, sent by "
        "`TCP_NODELAY=1 storescu`; every receiver also has `TCP_NODELAY=1` in its "
        "environment. Instances per second over the senders' wall time.",
        "",
        "| receiver | 1 association | 2 associations | 4 associations (4 studies) "
        "| 4 / 1 | 1 assoc. vs Orthanc | 4 assoc. vs Orthanc | 1 assoc. vs storescp |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in peers:
        one, four = rates[name, 1], rates[name, 4]
        two = rates.get((name, 2))
        lines.append(
            f"| {name} | {one:.0f} | {f'{two:.0f}' if two else '-'} | {four:.0f} | "
            f"{four / one:.2f}x | {one / rates[orthanc, 1]:.2f}x | "
            f"{four / rates[orthanc, 4]:.2f}x | {one / rates[storescp, 1]:.2f}x |")
    return lines


def latency(args: argparse.Namespace, scratch: Path) -> list[str]:
    """Last instance acknowledged -> SR and SEG stored at a storescp acting as PACS."""
    study = scratch / "phantom"
    subprocess.run([str(VFNODE), "phantom", "--out", str(study), "--seed", "3", "--family",
                    "no_leak"], check=True, cwd=scratch, env=ENV, stdout=subprocess.DEVNULL)
    pacs = Peer("pacs", "STORESCP", start_storescp)
    results = []
    with running(pacs, scratch) as pacs_port:
        received = next(scratch.glob("pacs-*/received"))
        node = Peer("vfnode", "VFNODE", start_vfnode(
            2, stable_seconds=args.stable_seconds,
            destinations=f"STORESCP@{LOOPBACK}:{pacs_port}"))
        with running(node, scratch) as port:
            images = sorted(study.rglob("*.dcm"))
            send("VFNODE", port, sorted({p.parent for p in images}))
            last = time.perf_counter()
            deadline = last + args.stable_seconds + 120
            while time.perf_counter() < deadline:
                kinds = {dcmread(p, stop_before_pixels=True).Modality
                         for p in received.iterdir() if p.is_file()}
                if {"SR", "SEG"} <= kinds:
                    results.append(time.perf_counter() - last)
                    break
                time.sleep(0.2)
    if not results:
        return ["SR and SEG did not arrive at the PACS within stable_seconds + 120 s."]
    seconds = results[0]
    budget = args.stable_seconds + 15
    return [
        f"Phantom study (`vfnode phantom --seed 3 --family no_leak`, {len(images)} files) sent by "
        f"`storescu` to `vfnode serve` (stable_seconds = {args.stable_seconds:g}, one "
        "worker) with a dcmtk `storescp` as PACS destination:",
        "",
        "| last instance acknowledged -> SR + SEG stored at the PACS | budget "
        "(stable_seconds + 15 s) |",
        "| ---: | ---: |",
        f"| {seconds:.1f} s ({seconds - args.stable_seconds:.1f} s after completion) "
        f"| {budget:g} s |",
    ]


def write_docs(section: list[str]) -> None:
    """Replace only the ingest section of docs/benchmarks.md (other sections are kept)."""
    text = DOCS.read_text() if DOCS.is_file() else "# Benchmarks\n"
    block = "\n".join([BEGIN, *section, END])
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--stable-seconds", type=float, default=20.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--write-docs", action="store_true",
                        help="put the tables into the ingest section of docs/benchmarks.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    section: list[str] = []
    try:
        if not args.skip_ingest:
            section += ["### Ingest rate", "", *ingest(args, scratch), ""]
        if not args.skip_latency:
            section += ["### Latency to results", "", *latency(args, scratch), ""]
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print("\n".join(section))
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
