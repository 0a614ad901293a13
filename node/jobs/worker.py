"""Workers: run one job = select → analyse → SR/SEG/summary → registry → outbox.

``run_job`` is idempotent, so a job interrupted at any point and run again has the effect
of one run: result objects are written to ``results/<job id>/`` with a manifest written
last (a rerun reuses a complete folder, and the result UIDs are derived from the content
anyway); the registry's analysis id is kept in the job row once recorded; the outbox
rows and the "done" state are committed in one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread

from node import __version__
from node.analysis.pipeline import analyze_series
from node.analysis.select import select_series
from node.config.settings import Settings
from node.errors import UnusableSeriesError
from node.jobs import inputs, outbox, queue
from node.jobs.outbox import ResultFile
from node.registry import Registry
from node.results.build import build_results
from node.storage.db import transaction
from node.storage.spool import Spool

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class JobContext:
    """What ``run_job`` works with; built once per worker process."""

    settings: Settings
    conn: sqlite3.Connection
    spool: Spool
    registry: Registry

    @property
    def results_root(self) -> Path:
        return self.settings.storage.data_dir / "results"


def run_job(job: queue.Job, ctx: JobContext) -> str:
    """Analyse the series of ``job`` and queue its results; return the outcome text.

    A series that cannot be analysed (nothing selectable, unusable geometry) is an outcome,
    not an error: the job is done and the reason logged. Other exceptions propagate and
    the caller counts a failed attempt.
    """
    folder = ctx.results_root / str(job.id)
    analysis_id = job.analysis_id
    # Only a run that reached the registry may skip the analysis; otherwise redo it all
    # (the result UIDs come from the content, so rewritten objects keep them).
    files = read_manifest(folder) if analysis_id is not None else None
    if files is None:
        headers = _study_headers(ctx.spool, job.study_instance_uid)
        problems = inputs.series_problems(headers)
        if job.series_instance_uid in problems:
            return _finish(ctx, job, [], None,
                           f"not analysable: {problems[job.series_instance_uid]}")
        selection = select_series([h for h in headers
                                   if str(h.get("SeriesInstanceUID", "")) not in problems])
        if selection.chosen != job.series_instance_uid:
            reason = dict(selection.skipped).get(job.series_instance_uid, "not chosen")
            return _finish(ctx, job, [], None, f"not analysed: {reason}")
        chosen = _load_series(ctx.spool, job.series_instance_uid)
        undecodable = inputs.pixel_problem(chosen)
        if undecodable is not None:
            return _finish(ctx, job, [], None, f"not analysable: {undecodable}")
        try:
            analysis = analyze_series(chosen, ctx.settings.analysis,
                                      software_version=__version__,
                                      workers=ctx.settings.jobs.analysis_threads or None)
        except UnusableSeriesError as exc:
            return _finish(ctx, job, [], None, f"not analysable: {exc}")
        objects = _build(ctx, analysis, chosen, job)
        files = write_results(folder, objects)
        if analysis_id is None:
            analysis_id = ctx.registry.record_analysis(
                analysis.result, chosen[0],
                result_sop_instance_uids=[f.sop_instance_uid for f in files])
            queue.set_analysis_id(ctx.conn, job.id, analysis_id)
    return _finish(ctx, job, files, analysis_id, f"analysed: {len(files)} result objects")


def _build(ctx: JobContext, analysis: Any, chosen: Sequence[Dataset],
           job: queue.Job) -> list[Dataset]:
    options = ctx.settings.results
    objects: list[Dataset] = build_results(
        analysis, chosen, sr=options.sr, seg=options.seg, summary_image=options.summary_image,
        volumetric_sr_groups=options.volumetric_sr_groups,
        series_number_base=options.series_number_base,
        previous_sr=_previous_sr(ctx, job))
    return objects


def _finish(ctx: JobContext, job: queue.Job, files: list[ResultFile], analysis_id: int | None,
            outcome: str) -> str:
    destinations = outbox.destinations_for(ctx.settings.outbox, job.calling_ae)
    with transaction(ctx.conn):
        outbox.add(ctx.conn, job_id=job.id, analysis_id=analysis_id, files=files,
                   destinations=destinations)
        queue.mark_done(ctx.conn, job.id, outcome)
    logger.info("job done job=%s series=%s outcome=%s destinations=%d", job.id,
                job.series_instance_uid, outcome, len(destinations))
    return outcome


def _study_headers(spool: Spool, study_uid: str) -> list[Dataset]:
    """Headers of every CT image of the study: selection compares all its series."""
    headers: list[Dataset] = []
    for paths in spool.study_series(study_uid).values():
        for path in paths:
            try:
                headers.append(dcmread(path, stop_before_pixels=True))
            except Exception as exc:  # accepted at receipt, so this is damage on disk
                logger.warning("spool file unreadable, left out path=%s reason=%s", path, exc)
    return headers


def _load_series(spool: Spool, series_uid: str) -> list[Dataset]:
    datasets: list[Dataset] = []
    for path in spool.series_paths(series_uid):
        try:
            datasets.append(dcmread(path))
        except Exception as exc:  # accepted at receipt, so this is damage on disk
            logger.warning("spool file unreadable, left out path=%s reason=%s", path, exc)
    return datasets


def _previous_sr(ctx: JobContext, job: queue.Job) -> Dataset | None:
    """The SR of the latest finished job of the same series, which the new SR replaces."""
    previous = queue.previous_done_job(ctx.conn, job)
    if previous is None:
        return None
    for item in read_manifest(ctx.results_root / str(previous)) or []:
        if item.path.name.startswith("SR_") and item.path.is_file():
            return dcmread(item.path)
    return None


def write_results(folder: Path, objects: Sequence[Dataset]) -> list[ResultFile]:
    """Write each object durably, then the manifest (the folder's "complete" mark)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = []
    for ds in objects:
        path = folder / f"{ds.Modality}_{ds.SOPInstanceUID}.dcm"
        tmp = path.with_suffix(".part")
        ds.save_as(tmp, enforce_file_format=True)
        _fsync_file(tmp)
        os.replace(tmp, path)
        files.append(ResultFile(str(ds.SOPInstanceUID), str(ds.SOPClassUID), path))
    manifest = [{"sop_instance_uid": f.sop_instance_uid, "sop_class_uid": f.sop_class_uid,
                 "path": f.path.name} for f in files]
    tmp = folder / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=1))
    _fsync_file(tmp)
    os.replace(tmp, folder / MANIFEST)
    return files


def read_manifest(folder: Path) -> list[ResultFile] | None:
    """The result files of a complete folder, or None when the folder is not complete."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    items = json.loads(path.read_text())
    return [ResultFile(i["sop_instance_uid"], i["sop_class_uid"], folder / i["path"])
            for i in items]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def work(ctx: JobContext, stop: threading.Event) -> None:
    """Claim and run jobs until ``stop`` is set (one worker process)."""
    jobs = ctx.settings.jobs
    while not stop.is_set():
        job = queue.claim(ctx.conn)
        if job is None:
            stop.wait(jobs.poll_seconds)
            continue
        started = time.monotonic()
        logger.info("job started job=%s series=%s attempt=%d", job.id, job.series_instance_uid,
                    job.attempts)
        try:
            run_job(job, ctx)
        except Exception as exc:
            state = queue.mark_failed_attempt(ctx.conn, job, f"{type(exc).__name__}: {exc}",
                                              max_attempts=jobs.max_attempts)
            logger.exception("job attempt failed job=%s attempt=%d now=%s", job.id,
                             job.attempts, state.value)
        else:
            logger.info("job finished job=%s seconds=%.1f", job.id, time.monotonic() - started)
