"""What every result object of one analysed series is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import numpy as np
import numpy.typing as npt
from pydicom import Dataset
from pydicom.sequence import Sequence
from scipy import ndimage

from node.analysis.types import Analysis, LevelResult
from node.results import _geometry
from node.results.uids import ResultUIDs, derive_uid, vertebra_key

Box = tuple[slice, ...]
Region = tuple[slice | int, ...]  # an index into the (slices, rows, columns) grid


@dataclass(frozen=True, slots=True)
class Device:
    """The device that made the results (SR observer context, equipment modules).

    The node maps its configuration to this; the software version is the result
    record's.
    """

    manufacturer: str = "vfnode project"
    model_name: str = "vfnode"
    serial_number: str = "1"
    name: str = "vfnode"
    institution_name: str | None = None

    def __post_init__(self) -> None:
        for key in ("manufacturer", "model_name", "serial_number", "name"):
            value = getattr(self, key)
            if not value or len(value) > 64:
                raise ValueError(f'Device "{key}" must have 1..64 characters. Found "{value}".')

    @property
    def uid(self) -> str:
        """Device Observer UID, stable for one manufacturer, model and serial."""
        return derive_uid("device", self.manufacturer, self.model_name, self.serial_number)

    def to_json(self) -> dict[str, str | None]:
        return {"manufacturer": self.manufacturer, "model_name": self.model_name,
                "serial_number": self.serial_number, "name": self.name,
                "institution_name": self.institution_name}


@dataclass(frozen=True, slots=True)
class Vertebra:
    """One treated vertebra as the result objects show it."""

    index: int  # 1-based: its label in body_labels / extravertebral_labels
    result: LevelResult
    key_slice: int  # axis-0 index of the largest cement cross-section

    @property
    def key(self) -> str:
        return vertebra_key(self.result.level, self.index)

    @property
    def name(self) -> str:
        """``"L1"``, or ``"Vertebra 2"`` when the level cannot be named."""
        return self.result.level or f"Vertebra {self.index}"


@dataclass(frozen=True)
class ResultContext:
    """Inputs shared by the SR, SEG and summary builders.

    Attributes
    ----------
    analysis : Analysis
        The result record with its masks.
    sources : list of Dataset
        The CT images in the axis-0 order of the masks.
    uids : ResultUIDs
        Series, instance and tracking UIDs.
    device : Device
        Equipment and observer identity.
    created : datetime
        Content date and time of every object.
    version : int
        Instance Number: 1, or the superseded SR's plus one.
    previous_sr : Dataset, optional
        The SR the new SR supersedes (Predecessor Documents Sequence).
    kept_predecessors : Sequence, optional
        When the previous SR holds this very result, its own Predecessor Documents
        Sequence: the SR is rebuilt as it was instead of superseding itself.
    """

    analysis: Analysis
    sources: list[Dataset]
    uids: ResultUIDs
    device: Device
    created: datetime
    version: int = 1
    previous_sr: Dataset | None = None
    kept_predecessors: Sequence | None = None
    vertebrae: list[Vertebra] = field(init=False)

    def __post_init__(self) -> None:
        _geometry.check_affine(self.sources, np.asarray(self.analysis.affine, dtype=np.float64))
        found = []
        for index, level in enumerate(self.analysis.result.levels, start=1):
            box = self.body_box(index)
            if box is None:
                raise ValueError(
                    f"Every treated level must have a body in body_labels. "
                    f"Found none labelled {index} ({level.level or 'unnamed'})."
                )
            body = self.labels[box] == index
            k = box[0].start + _geometry.key_slice(body, self.cement[box])
            found.append(Vertebra(index, level, k))
        object.__setattr__(self, "vertebrae", found)

    @cached_property
    def labels(self) -> npt.NDArray[np.integer]:
        """``body_labels``: i marks the body of level i."""
        return np.asarray(self.analysis.body_labels)

    @cached_property
    def extravertebral_labels(self) -> npt.NDArray[np.integer]:
        return np.asarray(self.analysis.extravertebral_labels)

    @cached_property
    def cement(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.analysis.cement, dtype=np.bool_)

    @cached_property
    def _boxes(self) -> tuple[list[Box | None], list[Box | None]]:
        # One pass over each label volume instead of one comparison per level and use.
        n = len(self.analysis.result.levels)
        bodies = ndimage.find_objects(self.labels, max_label=n) if n else []
        extra = ndimage.find_objects(self.extravertebral_labels, max_label=n) if n else []
        return list(bodies), list(extra)

    def body_box(self, index: int) -> Box | None:
        """Bounding box (slices, rows, columns) of body ``index``; None when it is empty."""
        return self._boxes[0][index - 1]

    def extravertebral_box(self, index: int) -> Box | None:
        """Bounding box of the extravertebral cement of level ``index``; None without."""
        return self._boxes[1][index - 1]

    def body(self, index: int, region: Region = ()) -> npt.NDArray[np.bool_]:
        """Body ``index`` within ``region`` (default: the whole grid)."""
        return np.asarray(self.labels[region] == index)

    def extravertebral(self, index: int, region: Region = ()) -> npt.NDArray[np.bool_]:
        """Extravertebral cement of level ``index`` within ``region``."""
        return np.asarray(self.extravertebral_labels[region] == index)

    @property
    def software_version(self) -> str:
        return self.analysis.result.software_version

    @property
    def pixel_area_mm2(self) -> float:
        row, column = (float(v) for v in self.sources[0].PixelSpacing)
        return row * column
