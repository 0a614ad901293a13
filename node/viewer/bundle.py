"""The prebuilt OHIF viewer v3 bundle: fetched once with ``npm pack``, unpacked and pruned.

``npm pack @ohif/app@3.13.2`` gives a static build in ``package/dist`` (no build step).
The version is pinned: npm otherwise falls back to an older release because the package's
``engines`` field asks for a newer Node than Debian's. Source maps, the ONNX runtime
(``ort/``, for AI tools we do not use) and the microscopy viewer are pruned, which takes
the bundle from ~210 MB to ~50 MB. Its ``app-config.js`` points at a public server; the
viewer server never serves that file but :func:`app_config` instead.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tarfile
from pathlib import Path

logger = logging.getLogger(__name__)

OHIF_VERSION = "3.13.2"
PRUNED_DIRS = ("ort", "dicom-microscopy-viewer")
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "ohif"


class BundleError(RuntimeError):
    """The OHIF bundle cannot be had (no npm, no registry, broken archive)."""


def tarball_path(cache: Path = DEFAULT_CACHE, version: str = OHIF_VERSION) -> Path:
    return cache / f"ohif-app-{version}.tgz"


def fetch_tarball(cache: Path = DEFAULT_CACHE, version: str = OHIF_VERSION) -> Path:
    """Run ``npm pack @ohif/app@VERSION`` into ``cache`` unless the tarball is there."""
    tgz = tarball_path(cache, version)
    if tgz.is_file():
        return tgz
    npm = shutil.which("npm")
    if npm is None:
        raise BundleError(f'"npm" must be on PATH to fetch @ohif/app@{version}. Found none.')
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "pack", f"@ohif/app@{version}", "--pack-destination",
                             str(cache)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not tgz.is_file():
        raise BundleError(f"npm pack @ohif/app@{version} must write {tgz}. Found exit code "
                          f"{result.returncode}: {result.stderr.strip()[-500:]}")
    return tgz


def _keep(name: str) -> bool:
    parts = Path(name).parts
    if len(parts) < 3 or parts[:2] != ("package", "dist"):
        return False
    return parts[2] not in PRUNED_DIRS and not name.endswith(".map")


def ensure_bundle(cache: Path = DEFAULT_CACHE, version: str = OHIF_VERSION) -> Path:
    """Return the folder of the unpacked, pruned ``dist`` (fetching it first if needed)."""
    dist = cache / f"dist-{version}"
    if (dist / "index.html").is_file():
        return dist
    tgz = fetch_tarball(cache, version)
    partial = cache / f"dist-{version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(tgz) as archive:
        members = [m for m in archive.getmembers() if _keep(m.name) and (m.isfile() or m.isdir())]
        for member in members:
            member.name = str(Path(*Path(member.name).parts[2:]))
        archive.extractall(partial, members=members, filter="data")
    if not (partial / "index.html").is_file():
        raise BundleError(f"{tgz} must hold package/dist/index.html. Found none.")
    partial.rename(dist)
    logger.info("OHIF %s unpacked to %s", version, dist)
    return dist


def app_config(*, title: str = "vfnode results") -> str:
    """``window.config`` with one DICOMweb data source on the same origin (the proxy)."""
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "orthanc",
        "configuration": {
            "friendlyName": title,
            "name": "orthanc",
            "wadoUriRoot": "/wado",
            "qidoRoot": "/dicom-web",
            "wadoRoot": "/dicom-web",
            "qidoSupportsIncludeField": True,
            "supportsReject": False,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": False,
            "supportsWildcard": True,
            "staticWado": False,
            "singlepart": "bulkdata,video",
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
            "omitQuotationForMultipartRequest": True,
        },
    }
    config = {
        "routerBasename": "/",
        "extensions": [],
        "modes": [],
        "showStudyList": True,
        "maxNumberOfWebWorkers": 2,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": False,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "defaultDataSourceName": "orthanc",
        "investigationalUseDialog": {"option": "never"},
        "dataSources": [source],
    }
    return "window.config = " + json.dumps(config, indent=2) + ";\n"
