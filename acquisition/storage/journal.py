"""Append-only, self-checking record journal: the crash-safe half of a run file.

HDF5 keeps its metadata (B-trees, heaps, superblock) in places that one write call updates in
several steps, so a process killed during a write can leave a file that no longer opens. A
journal cannot be corrupted that way: every record is appended after everything already written
and carries its own length and CRC-32, so a reader keeps every complete record and drops a torn
tail (the record that was being written when the process died).

Record framing (little endian)::

    magic  b"AVJ1"      4 bytes
    json_len  uint32    length of the JSON header
    blob_len  uint64    length of the binary blob that follows the header
    crc32     uint32    CRC-32 of header + blob
    header    json_len bytes of UTF-8 JSON (a dict; arrays are described under "arrays")
    blob      blob_len bytes: the raw bytes of the record's numeric arrays, back to back

A numeric array in a record is described in the header as
``{"dtype": "<f8", "shape": [n, m], "offset": o, "nbytes": k}`` (offset into the blob).
"""
from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

logger = logging.getLogger(__name__)

MAGIC = b"AVJ1"
_FRAME = struct.Struct("<4sIQI")

#: numpy dtype kinds stored as raw bytes; anything else (strings, objects) goes through JSON
_RAW_KINDS = frozenset("biufc")


def frame_parts(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> list[bytes | memoryview]:
    """One record as consecutive buffers (frame, JSON header, array bytes), without copying arrays."""
    buffers: list[memoryview] = []
    described: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, array in (arrays or {}).items():
        contiguous = np.ascontiguousarray(array)
        raw = memoryview(contiguous.reshape(-1).view(np.uint8))  # bytes of any dtype, even empty
        described[name] = {"dtype": contiguous.dtype.str, "shape": list(contiguous.shape),
                           "offset": offset, "nbytes": raw.nbytes}
        buffers.append(raw)
        offset += raw.nbytes
    if described:
        header = {**header, "arrays": described}
    text = json.dumps(header, allow_nan=True, separators=(",", ":")).encode("utf-8")
    crc = zlib.crc32(text)
    for raw in buffers:
        crc = zlib.crc32(raw, crc)
    return [_FRAME.pack(MAGIC, len(text), offset, crc), text, *buffers]


def encode_record(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """Frame one record: ``header`` (JSON-serialisable) plus numeric ``arrays`` as raw bytes."""
    return b"".join(frame_parts(header, arrays))


@dataclass(frozen=True)
class JournalContents:
    records: list[dict[str, Any]]
    #: bytes after the last complete record (a torn tail), 0 for a cleanly written journal
    trailing_bytes: int
    #: why reading stopped early ("" when the whole file was read)
    problem: str


def decode_records(data: bytes) -> JournalContents:
    """Decode every complete record of ``data``; stop at the first torn or corrupt one."""
    records: list[dict[str, Any]] = []
    position = 0
    problem = ""
    while position < len(data):
        if len(data) - position < _FRAME.size:
            problem = f"torn record frame at byte {position}"
            break
        magic, json_len, blob_len, crc = _FRAME.unpack_from(data, position)
        if magic != MAGIC:
            problem = f"bad record marker at byte {position}"
            break
        start = position + _FRAME.size
        end = start + json_len + blob_len
        if end > len(data):
            problem = f"torn record at byte {position} (needs {end - position} bytes)"
            break
        text = data[start:start + json_len]
        blob = data[start + json_len:end]
        if zlib.crc32(blob, zlib.crc32(text)) != crc:
            problem = f"checksum mismatch in record at byte {position}"
            break
        header = json.loads(text.decode("utf-8"))
        for name, spec in header.pop("arrays", {}).items():
            raw = blob[spec["offset"]:spec["offset"] + spec["nbytes"]]
            header.setdefault("array_values", {})[name] = (
                np.frombuffer(raw, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"]).copy())
        records.append(header)
        position = end
    return JournalContents(records=records, trailing_bytes=len(data) - position, problem=problem)


def read_journal(path: Path) -> JournalContents:
    """Read the journal at ``path`` (which may still be growing: the tail may be torn)."""
    with open(path, "rb") as stream:
        return decode_records(stream.read())


class JournalAppender:
    """Appends framed records; each append reaches the OS before :meth:`append` returns.

    Reaching the OS (``flush``) is what survives ``kill -9`` of this process; ``fsync`` also
    survives a power cut or kernel crash but costs a disk round trip per point, so it is optional.
    """

    def __init__(self, path: Path, *, fsync_each_record: bool = False) -> None:
        self._path = path
        self._fsync = fsync_each_record
        # "xb": never append to (and so never interleave with) a journal of another run
        self._stream: BinaryIO = open(path, "xb")

    @property
    def stream(self) -> BinaryIO:
        return self._stream

    @property
    def path(self) -> Path:
        return self._path

    def append(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        # the buffers go out back to back; if the process dies in between, the record is torn
        # and its length/CRC make readers drop it (and only it)
        for part in frame_parts(header, arrays):
            self._stream.write(part)
        self._stream.flush()
        if self._fsync:
            os.fsync(self._stream.fileno())

    def sync(self) -> None:
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()
