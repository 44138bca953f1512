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

import errno
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
    #: bytes that are not part of any complete record (a torn tail, a damaged record), 0 for a
    #: cleanly written journal
    trailing_bytes: int
    #: why bytes were dropped ("" when the whole file was read)
    problem: str


def _record_at(data: bytes, position: int) -> tuple[dict[str, Any] | None, int, str]:
    """(record, end, "") for a complete, checksummed record at ``position``, else (None, 0, why)."""
    if len(data) - position < _FRAME.size:
        return None, 0, f"torn record frame at byte {position}"
    magic, json_len, blob_len, crc = _FRAME.unpack_from(data, position)
    if magic != MAGIC:
        return None, 0, f"bad record marker at byte {position}"
    start = position + _FRAME.size
    end = start + json_len + blob_len
    if end > len(data):
        return None, 0, f"torn record at byte {position} (needs {end - position} bytes)"
    text = data[start:start + json_len]
    blob = data[start + json_len:end]
    if zlib.crc32(blob, zlib.crc32(text)) != crc:
        return None, 0, f"checksum mismatch in record at byte {position}"
    try:
        header = json.loads(text.decode("utf-8"))
        for name, spec in header.pop("arrays", {}).items():
            raw = blob[spec["offset"]:spec["offset"] + spec["nbytes"]]
            header.setdefault("array_values", {})[name] = (
                np.frombuffer(raw, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"]).copy())
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return None, 0, f"undecodable record at byte {position} ({type(exc).__name__})"
    return header, end, ""


def _next_record(data: bytes, position: int) -> int | None:
    """Where the next complete record after a damaged one starts (records appended after a torn
    one by an older writer, or a damaged byte in the middle), None if there is none."""
    candidate = data.find(MAGIC, position + 1)
    while candidate >= 0:
        if _record_at(data, candidate)[0] is not None:
            return candidate
        candidate = data.find(MAGIC, candidate + 1)
    return None


def decode_records(data: bytes) -> JournalContents:
    """Decode every complete record of ``data``: a torn or damaged record is dropped (and only
    it: decoding goes on at the next complete record, whose length and CRC prove it whole)."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    position = 0
    dropped = 0
    while position < len(data):
        record, end, problem = _record_at(data, position)
        if record is not None:
            records.append(record)
            position = end
            continue
        problems.append(problem)
        resume = _next_record(data, position)
        if resume is None:
            dropped += len(data) - position
            break
        dropped += resume - position
        position = resume
    return JournalContents(records=records, trailing_bytes=dropped, problem="; ".join(problems))


def read_journal(path: Path) -> JournalContents:
    """Read the journal at ``path`` (which may still be growing: the tail may be torn)."""
    with open(path, "rb") as stream:
        return decode_records(stream.read())


class StorageError(OSError):
    """The run file or its journal could not be written; the message names the file."""


def _write_all(descriptor: int, parts: list[bytes | memoryview]) -> None:
    """Write ``parts`` back to back at the descriptor's position (short writes continued)."""
    views = [memoryview(part).cast("B") for part in parts if len(part)]
    while views:
        written = os.writev(descriptor, views)
        if written <= 0:
            raise OSError(errno.EIO, "write returned no progress")
        while written and views:
            if written >= len(views[0]):
                written -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][written:]
                written = 0


class JournalAppender:
    """Appends framed records; each append reaches the OS before :meth:`append` returns.

    Reaching the OS is what survives ``kill -9`` of this process; ``fsync`` also survives a power
    cut or kernel crash but costs a disk round trip per point, so it is optional.

    A failed append (disk full, quota, I/O error) raises :class:`StorageError` and cuts the
    journal back to the end of the last complete record, so no record ever follows a torn one;
    if even that fails the journal takes no further record. Writes are unbuffered (one
    ``writev`` per record): no bytes of a failed record wait in a buffer to be written later.
    """

    def __init__(self, path: Path, *, fsync_each_record: bool = False) -> None:
        self._path = path
        self._fsync = fsync_each_record
        # "x": never append to (and so never interleave with) a journal of another run
        try:
            self._stream: BinaryIO = open(path, "x+b", buffering=0)
        except FileExistsError:
            raise
        except OSError as exc:
            raise StorageError(f"{path}: journal cannot be created ({exc.strerror or exc})") from exc
        status = os.fstat(self._stream.fileno())
        #: (device, inode) of the journal this appender created: finalisation checks it
        self.identity = (status.st_dev, status.st_ino)
        self._end = 0
        self._records = 0
        self._broken = ""

    @property
    def stream(self) -> BinaryIO:
        return self._stream

    @property
    def path(self) -> Path:
        return self._path

    @property
    def records(self) -> int:
        return self._records

    def append(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        if self._broken:
            raise StorageError(f"{self._path}: record not written: the journal takes no more records "
                               f"after an earlier write error ({self._broken})")
        descriptor = self._stream.fileno()
        try:
            _write_all(descriptor, frame_parts(header, arrays))
            if self._fsync:
                os.fsync(descriptor)
        except OSError as exc:
            raise self._failed(exc) from exc
        self._end = os.lseek(descriptor, 0, os.SEEK_CUR)
        self._records += 1

    def _failed(self, exc: OSError) -> StorageError:
        """Cut a torn record off (the journal stays readable and appendable), or refuse every
        further record when even that fails."""
        what = exc.strerror or str(exc) or type(exc).__name__
        try:
            os.ftruncate(self._stream.fileno(), self._end)
            os.lseek(self._stream.fileno(), self._end, os.SEEK_SET)
        except OSError as cut:
            self._broken = f"{what}; the torn record could not be cut off: {cut.strerror or cut}"
        return StorageError(f"{self._path}: {what} (record not written; the {self._records} records "
                            "before it are intact)")

    def sync(self) -> None:
        try:
            os.fsync(self._stream.fileno())
        except OSError as exc:
            raise StorageError(f"{self._path}: cannot be flushed to disk ({exc.strerror or exc})") from exc

    def read_back(self) -> JournalContents:
        """This journal's records, read through the handle that wrote them (whatever happened
        to the path since: deleted, or replaced by another run's file)."""
        chunks: list[bytes] = []
        position = 0
        while position < self._end:
            chunk = os.pread(self._stream.fileno(), self._end - position, position)
            if not chunk:
                break
            chunks.append(chunk)
            position += len(chunk)
        return decode_records(b"".join(chunks))

    def path_is_this_journal(self) -> bool:
        """Whether the journal's path still names the file this appender created."""
        try:
            status = os.stat(self._path)
        except OSError:
            return False
        return (status.st_dev, status.st_ino) == self.identity

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()
