"""``vfnode demo``: a phantom study through a running node, and the result it produced.

The five-minute tour: start the node (``./scripts/serve``) in one terminal, run
``vfnode demo`` in another. The demo writes a phantom study, sends it by C-STORE to the
node, waits for the node to analyse the series (after ``jobs.stable_seconds`` of quiet),
and prints the result record next to the phantom's ground truth, plus where the SR and
SEG were sent. It reads the node's database, so run it with the node's configuration.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from node.config.settings import Settings, parse_address
from node.errors import VfnodeError
from node.net.scu import Timeouts, send_files
from node.phantom.case import write_case
from node.registry import Registry
from node.storage import db


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="send a phantom study through the running node",
                              description=__doc__.split("\n")[0])
    p.add_argument("--node", help="AE@HOST:PORT of the node (default: this configuration's)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--family", default="no_leak")
    p.add_argument("--full", action="store_true", help="full-size phantom (slower)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for results")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    address = args.node or f"{settings.net.ae_title}@127.0.0.1:{settings.net.port}"
    node = parse_address(address)
    with tempfile.TemporaryDirectory(prefix="vfnode-demo-") as scratch:
        folder = Path(scratch) / "study"
        print(f"1/3 writing a phantom study (family {args.family}, seed {args.seed})")
        summary = write_case(folder, args.family, args.seed, small=not args.full,
                             params=settings.analysis)
        truth = json.loads((folder / "truth.json").read_text())
        files = sorted(folder.rglob("*.dcm"))
        print(f"2/3 sending {len(files)} files ({summary.slices} CT slices) to {address}")
        report = send_files(files, node, calling_ae="VFDEMO", timeouts=Timeouts(dimse_s=30))
        if len(report.stored) != len(files):
            raise VfnodeError(f"The node must store every file. It stored {len(report.stored)}"
                              f" of {len(files)}: {report.unanswered or report.refused}")
    series_uid = truth["analysable_series_instance_uid"]
    print(f"3/3 waiting for the analysis (the series completes after "
          f"{settings.jobs.stable_seconds:g} s without new instances)")
    job = _wait_for_job(settings, series_uid, args.timeout)
    print(f"job {job['id']}: {job['outcome']}")
    if job["analysis_id"] is None:
        return 1
    with Registry(settings.registry_url) as registry:
        detail = registry.analysis(int(job["analysis_id"]))
    _print_levels(detail.record, truth)
    _print_deliveries(settings, int(job["id"]))
    return 0


def _wait_for_job(settings: Settings, series_uid: str, timeout: float) -> sqlite3.Row:
    conn = db.connect(settings.storage.data_dir, create=False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT * FROM jobs WHERE series_instance_uid = ? AND state IN "
                               "('done', 'failed') ORDER BY id DESC LIMIT 1",
                               (series_uid,)).fetchone()
            if row is not None:
                return row
            time.sleep(1.0)
    finally:
        conn.close()
    raise VfnodeError(f"The node must finish the series within {timeout:g} s. It did not; "
                      'see "vfnode status" and the node\'s log.')


def _print_levels(record: dict[str, Any], truth: dict[str, Any]) -> None:
    known = {lv["level"]: lv for lv in truth.get("levels", [])}
    print(f"{'level':6} {'VBV ml':>8} {'CDV ml':>8} {'VF %':>6} {'truth VF %':>10} "
          f"{'score':>5} group leakage")
    for lv in record.get("levels", []):
        expected = known.get(lv["level"], {}).get("vf_pct")
        shown = f"{expected:.1f}" if expected is not None else "-"
        print(f"{lv['level'] or '?':6} {lv['vbv_ml']:8.2f} {lv['cdv_ml']:8.2f} "
              f"{lv['vf_pct']:6.1f} {shown:>10} {lv['score']['total']:5d} "
              f"{lv['group']:5} {'yes' if lv['leakage'] else 'no'}")
    if not record.get("levels"):
        print("no treated level found (flags: " + ", ".join(record.get("flags", [])) + ")")


def _print_deliveries(settings: Settings, job_id: int) -> None:
    conn = db.connect(settings.storage.data_dir, create=False)
    try:
        rows = conn.execute("SELECT destination, state, COUNT(*) FROM outbox WHERE job_id = ? "
                            "GROUP BY destination, state", (job_id,)).fetchall()
    finally:
        conn.close()
    if not rows:
        print("results were not sent anywhere: set outbox.destinations to send SR and SEG "
              f"to a PACS (kept in {settings.storage.data_dir / 'results' / str(job_id)})")
    for destination, state, count in rows:
        print(f"{count} result objects to {destination}: {state}")
