"""Seeded mutations of valid DICOM instances, for the fuzzing runs of issue 8.

Two kinds, mixed: byte-level mutations of the encoded Part 10 file (bit flips, random
byte runs, truncation, duplicated or deleted spans, element lengths set to huge or odd
values) that exercise the parser, and dataset-level mutations (a random element of the
dataset given a random value of a random type, or deleted) that produce well-formed files
with nonsense content. Everything derives from one ``numpy`` generator seed, so a failing
input is reproduced from its index alone.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset

NONSENSE_VALUES: tuple[object, ...] = (
    "", " ", "\x00" * 8, "abc", "-1", "1e308", "NaN", "9" * 70, "x" * 70_000, "\\\\\\",
    "1.2.3..4", "../../x", "\u00e9\u00e8", -(2**31), 2**31 - 1, 0, 65535, -1.5,
)


@dataclass(frozen=True, slots=True)
class Mutant:
    """One fuzzing input: its index, how it was made and its bytes."""

    index: int
    kind: str
    data: bytes


def encode(ds: Dataset) -> bytes:
    """Part 10 bytes of ``ds`` (file meta included)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def _flip_bits(data: bytearray, rng: np.random.Generator) -> str:
    for _ in range(int(rng.integers(1, 9))):
        pos = int(rng.integers(0, len(data)))
        data[pos] ^= 1 << int(rng.integers(0, 8))
    return "bitflip"


def _random_run(data: bytearray, rng: np.random.Generator) -> str:
    pos = int(rng.integers(0, len(data)))
    run = rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    data[pos:pos + len(run)] = run
    return "byterun"


def _truncate(data: bytearray, rng: np.random.Generator) -> str:
    del data[int(rng.integers(1, len(data))):]
    return "truncate"


def _splice(data: bytearray, rng: np.random.Generator) -> str:
    a, b = sorted(int(x) for x in rng.integers(0, len(data), size=2))
    if rng.random() < 0.5:
        del data[a:b]
        return "delete-span"
    data[a:a] = data[a:b][:4096]
    return "duplicate-span"


def _length_field(data: bytearray, rng: np.random.Generator) -> str:
    # Explicit VR little endian: tag (4) VR (2) length (2) or VR (2) 00 00 length (4).
    pos = int(rng.integers(0, max(1, len(data) - 8)))
    value = int(rng.choice([0, 1, 3, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, len(data) * 2]))
    if rng.random() < 0.5:
        data[pos:pos + 2] = struct.pack("<H", value & 0xFFFF)
    else:
        data[pos:pos + 4] = struct.pack("<I", value & 0xFFFFFFFF)
    return "length"


BYTE_MUTATIONS = (_flip_bits, _random_run, _truncate, _splice, _length_field)


def _mutate_element(ds: Dataset, rng: np.random.Generator) -> str:
    elements = [e for e in ds if e.tag.group > 0x0002 and e.tag != 0x7FE00010]
    elem = elements[int(rng.integers(0, len(elements)))]
    if rng.random() < 0.25:
        del ds[elem.tag]
        return f"delete {elem.keyword or elem.tag}"
    value = NONSENSE_VALUES[int(rng.integers(0, len(NONSENSE_VALUES)))]
    try:
        elem.value = value
        _ = str(elem.value)  # pydicom converts lazily: fail here, not in the writer
    except Exception:  # a value of a type the VR cannot hold
        del ds[elem.tag]
        return f"delete {elem.keyword or elem.tag}"
    return f"value {elem.keyword or elem.tag}"


LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}


def meta_length(data: bytes) -> int:
    """Bytes of preamble, prefix and file meta group at the start of a Part 10 file."""
    pos = 132  # 128-byte preamble + "DICM"; the meta group is explicit VR little endian
    while pos + 8 <= len(data) and struct.unpack_from("<H", data, pos)[0] == 0x0002:
        vr = data[pos + 4:pos + 6]
        if vr in LONG_VRS:
            pos += 12 + struct.unpack_from("<I", data, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", data, pos + 6)[0]
    return pos


def mutants(seeds: list[Dataset], count: int, *, seed: int = 0,
            keep_meta: bool = False) -> Iterator[Mutant]:
    """``count`` mutated instances of the datasets in ``seeds`` (byte and value mutations).

    ``keep_meta`` leaves the file meta intact (byte mutations touch only the dataset), as a
    network peer sends it: the meta is not sent, the SCP builds it from the request.
    """
    rng = np.random.default_rng(seed)
    encoded = [encode(ds) for ds in seeds]
    for index in range(count):
        which = int(rng.integers(0, len(seeds)))
        if rng.random() < 0.6:
            keep = meta_length(encoded[which]) if keep_meta else 0
            data = bytearray(encoded[which][keep:])
            kinds = [BYTE_MUTATIONS[int(rng.integers(0, len(BYTE_MUTATIONS)))](data, rng)
                     for _ in range(int(rng.integers(1, 4))) if len(data) > 16]
            yield Mutant(index, "+".join(kinds), encoded[which][:keep] + bytes(data))
        else:
            ds = dcmread(io.BytesIO(encoded[which]))
            kinds = [_mutate_element(ds, rng) for _ in range(int(rng.integers(1, 4)))]
            try:
                data_out = encode(ds)
            except Exception:  # a value pydicom cannot write: fall back to a truncation
                keep = meta_length(encoded[which]) + 1 if keep_meta else 1
                data_out = bytes(encoded[which][: int(rng.integers(keep, len(encoded[which])))])
                kinds.append("truncate")
            yield Mutant(index, "; ".join(kinds), data_out)
