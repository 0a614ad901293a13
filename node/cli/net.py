"""``vfnode echo``, ``send``, ``status`` and ``outbox``: talk to DICOM peers, watch the node."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from node.config.settings import Settings, parse_address
from node.jobs import outbox, queue
from node.net import status as dimse
from node.net.scu import AssociationError, Timeouts, echo, send_files
from node.net.tls import client_context
from node.storage import db


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("echo", help="C-ECHO a DICOM peer",
                              description="Verify a peer: vfnode echo AE@HOST:PORT")
    p.add_argument("address", help="AE@HOST:PORT")
    p.add_argument("--tls", action="store_true", help="use the TLS files of [net]")
    p.set_defaults(func=cmd_echo)

    p = subparsers.add_parser("send", help="C-STORE files to a DICOM peer",
                              description="Send DICOM files (a file or a folder, recursively).")
    p.add_argument("paths", nargs="+", type=Path, help="files or folders")
    p.add_argument("--to", required=True, help="AE@HOST:PORT")
    p.add_argument("--calling-ae", help="calling AE title (default net.ae_title)")
    p.add_argument("--tls", action="store_true", help="use the TLS files of [net]")
    p.set_defaults(func=cmd_send)

    p = subparsers.add_parser("status", help="associations, jobs, outbox and disk of the node")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("outbox", help="list undelivered results; give up or retry")
    p.add_argument("action", choices=["list", "give-up", "retry"])
    p.add_argument("ids", nargs="*", type=int, help="outbox row ids (default: all)")
    p.set_defaults(func=cmd_outbox)


def cmd_echo(args: argparse.Namespace, settings: Settings) -> int:
    dest = parse_address(args.address)
    started = time.perf_counter()
    try:
        code = echo(dest, calling_ae=settings.net.ae_title,
                    ssl_context=client_context(settings.net) if args.tls else None)
    except AssociationError as exc:
        print(f"echo failed: {exc}")
        return 1
    print(f"echo {args.address}: {dimse.describe(code)} in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")
    return 0 if code == dimse.SUCCESS else 1


def collect_files(paths: list[Path]) -> list[Path]:
    """Files given, and every file under folders given (hidden files skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*")
                                if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f'"{path}" must be a file or folder. Found nothing there.')
    return found


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    dest = parse_address(args.to)
    files = collect_files(args.paths)
    timeouts = Timeouts(dimse_s=settings.outbox.dimse_timeout_s)
    started = time.perf_counter()
    with Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task("send", total=len(files))
        report = send_files(
            files, dest, calling_ae=args.calling_ae or settings.net.ae_title, timeouts=timeouts,
            ssl_context=client_context(settings.net) if args.tls else None,
            progress=lambda _path, _code: bar.advance(task))
    seconds = time.perf_counter() - started
    stored = len(report.stored)
    print(f"sent {stored} of {len(files)} files to {args.to} in {seconds:.1f} s "
          f"({stored / seconds if seconds else 0:.0f}/s)")
    for path, code in report.refused.items():
        print(f"refused {path}: {dimse.describe(code)}")
    for path, why in report.unanswered.items():
        print(f"not sent {path}: {why}")
    return 0 if stored == len(files) else 1


def _open(settings: Settings) -> sqlite3.Connection:
    return db.connect(settings.storage.data_dir, create=False)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    conn = _open(settings)
    data_dir = settings.storage.data_dir
    now = time.time()
    open_rows = [row for row in conn.execute(
        "SELECT calling_ae, address, started_at, pid FROM associations WHERE ended_at IS NULL "
        "ORDER BY id").fetchall() if _alive(int(row[3]))]
    day = conn.execute("SELECT outcome, COUNT(*) FROM associations WHERE started_at > ? "
                       "GROUP BY outcome", (now - 86400,)).fetchall()
    print(f"node {settings.net.ae_title} port {settings.net.port} data {data_dir.resolve()}")
    print(f"associations open: {len(open_rows)}"
          + "".join(f"\n  {r[0]} from {r[1]} for {now - r[2]:.0f} s" for r in open_rows))
    print("associations last 24 h: "
          + (", ".join(f"{outcome} {n}" for outcome, n in day) or "none"))
    jobs = queue.counts(conn)
    print("jobs: " + ", ".join(f"{state} {n}" for state, n in jobs.items()))
    for row in conn.execute("SELECT id, series_instance_uid, attempts, last_error FROM jobs "
                            "WHERE state = 'failed' ORDER BY id DESC LIMIT 5"):
        print(f"  failed job {row[0]} series {row[1]} after {row[2]} attempts: {row[3]}")
    boxes = outbox.counts(conn)
    print("results outbox: " + ", ".join(f"{state} {n}" for state, n in boxes.items()))
    for row in conn.execute("SELECT destination, COUNT(*), MIN(next_at), MAX(last_error) "
                            "FROM outbox WHERE state = 'pending' GROUP BY destination"):
        print(f"  undelivered to {row[0]}: {row[1]} objects, next try in "
              f"{max(0.0, row[2] - now):.0f} s, last error: {row[3] or '-'}")
    spool_bytes, instances = conn.execute(
        "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM instances").fetchone()
    usage = shutil.disk_usage(data_dir)
    print(f"spool: {instances} instances, {spool_bytes / 2**20:.1f} MB; disk free "
          f"{usage.free / 2**30:.1f} GB of {usage.total / 2**30:.1f} GB")
    return 0


def _alive(pid: int) -> bool:
    """A row left "open" by a receiving process that was killed does not count."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    conn = _open(settings)
    box = outbox.Outbox(conn, settings.outbox, calling_ae=settings.net.ae_title)
    ids = args.ids or None
    if args.action == "give-up":
        print(f"gave up on {box.give_up(ids)} pending results")
    elif args.action == "retry":
        print(f"{box.retry_now(ids)} results will be sent at the next round")
    else:
        rows = conn.execute("SELECT id, job_id, destination, state, attempts, last_error, "
                            "path FROM outbox WHERE state != 'delivered' ORDER BY id").fetchall()
        for row in rows:
            print(f"{row[0]} job {row[1]} -> {row[2]} {row[3]} attempts {row[4]} "
                  f"{Path(row[6]).name} {row[5]}")
        print(f"{len(rows)} undelivered")
    return 0
