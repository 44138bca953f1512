"""PicoQuant PTU files: header tags, reader and writer (records: ``drivers.picoquant.records``).

File layout (PicoQuant's published PTU format): magic ``PQTTTR\\0\\0``, an 8-byte version string,
then 48-byte tags (``char Ident[32]``, ``int32 Idx`` (-1 when not indexed), ``uint32 Typ``,
``int64 Value``); strings, arrays and blobs store their byte length in Value and their bytes follow.
The header ends with the tag ``Header_End``; 32-bit little-endian records follow.

Reading accepts what other PicoQuant-format writers produce: only the record type is required (to
decode), the record count falls back to the file size when the tag is missing or not positive (as
ptufile does), duplicate and unknown tags are kept. A tag type this module does not know is
sized by the format's rule (low 16 bits 0x0008: the value is inline; 0xFFFF: Value bytes follow).
Every tag read keeps its raw bytes, so a file read and written again is identical byte for byte.
"""
from __future__ import annotations

import datetime as _dt
import os
import struct
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from drivers.picoquant.records import RecordType, record_type_from

MAGIC = b"PQTTTR\0\0"
FORMAT_VERSION = b"1.0.00\0\0"
_TAG_HEAD = struct.Struct("<32siIq")
RECORD_TYPE_TAG = "TTResultFormat_TTTRRecType"
RECORD_COUNT_TAG = "TTResult_NumberOfRecords"


class TagType(IntEnum):
    EMPTY8 = 0xFFFF0008
    BOOL8 = 0x00000008
    INT8 = 0x10000008
    BITSET64 = 0x11000008
    COLOR8 = 0x12000008
    FLOAT8 = 0x20000008
    TDATETIME = 0x21000008
    FLOAT8_ARRAY = 0x2001FFFF
    ANSI_STRING = 0x4001FFFF
    WIDE_STRING = 0x4002FFFF
    BINARY_BLOB = 0xFFFFFFFF


#: the tags every file avalab writes carries: what PicoQuant's and other readers look up
#: (phconvert's load_ptu needs all of them; decoding needs only the record type)
STANDARD_TAGS = (
    "File_GUID", "File_CreatingTime", "CreatorSW_Name", "CreatorSW_Version", "Measurement_Mode",
    "Measurement_SubMode", "HW_Type", "MeasDesc_GlobalResolution", "MeasDesc_Resolution",
    "MeasDesc_AcquisitionTime", RECORD_COUNT_TAG, "TTResult_SyncRate",
    "TTResultFormat_BitsPerRecord", RECORD_TYPE_TAG,
)

_DELPHI_EPOCH = _dt.datetime(1899, 12, 30, tzinfo=_dt.timezone.utc)


@dataclass(frozen=True)
class Tag:
    """One header tag. ``value`` is int, float, bool, str, bytes, datetime or a float array.

    ``typ`` is a TagType, or the raw type code of a type this module does not know. ``raw`` keeps
    what the file held (the 64-bit value field, or the payload bytes of a variable-length tag), so
    writing a tag read from a file gives back the same bytes; a new or changed tag has none.
    """

    ident: str
    value: Any
    typ: TagType | int
    idx: int = -1
    raw: int | bytes | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return self.ident if self.idx < 0 else f"{self.ident}({self.idx})"


def _is_variable(typ: int) -> bool:
    return typ & 0xFFFF == 0xFFFF


@dataclass
class PtuFile:
    header: list[Tag]     # every tag in file order (Header_End excluded), duplicates included
    records: np.ndarray   # uint32
    version: bytes = FORMAT_VERSION

    @property
    def tags(self) -> dict[str, Tag]:
        """Tags by key (``ident`` or ``ident(idx)``); a repeated tag's last occurrence wins."""
        return {tag.key: tag for tag in self.header}

    def value(self, ident: str, idx: int = -1, default: Any = ...) -> Any:
        key = ident if idx < 0 else f"{ident}({idx})"
        tags = self.tags
        if key not in tags:
            if default is not ...:
                return default
            raise KeyError(f"tag {key!r} is not in the file")
        return tags[key].value

    @property
    def record_type(self) -> RecordType:
        return record_type_from(self.value(RECORD_TYPE_TAG))

    @property
    def global_resolution_s(self) -> float | None:
        """Time-tag unit (T2) or sync period (T3), when the file states it."""
        value = self.value("MeasDesc_GlobalResolution", default=None)
        return None if value is None else float(value)

    @property
    def resolution_s(self) -> float | None:
        """dtime bin width (T3), when the file states it."""
        value = self.value("MeasDesc_Resolution", default=None)
        return None if value is None else float(value)


# ---------------------------------------------------------------------------------------- tags
def _pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def _as_int64(value: int) -> int:
    """A 64-bit field given as signed or unsigned, as the signed value struct packs."""
    return struct.unpack("<q", struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF))[0]


def _encode_tag(tag: Tag) -> bytes:
    ident = tag.ident.encode("ascii")
    if len(ident) > 32:
        raise ValueError(f"tag ident={tag.ident!r} is longer than 32 characters")
    typ = int(tag.typ)
    head = lambda value: _TAG_HEAD.pack(ident.ljust(32, b"\0"), tag.idx, typ, _as_int64(value))  # noqa: E731
    if isinstance(tag.raw, bytes):
        return head(len(tag.raw)) + tag.raw
    if isinstance(tag.raw, int):
        return head(tag.raw)
    if typ == TagType.EMPTY8:
        return head(0)
    if typ == TagType.BOOL8:
        return head(1 if tag.value else 0)
    if typ in (TagType.INT8, TagType.BITSET64, TagType.COLOR8):
        return head(int(tag.value))
    if typ == TagType.FLOAT8:
        return head(struct.unpack("<q", struct.pack("<d", float(tag.value)))[0])
    if typ == TagType.TDATETIME:
        moment = tag.value
        days = (moment - _DELPHI_EPOCH).total_seconds() / 86400.0 if isinstance(
            moment, _dt.datetime) else float(moment)
        return head(struct.unpack("<q", struct.pack("<d", days))[0])
    if typ == TagType.FLOAT8_ARRAY:
        payload = np.asarray(tag.value, dtype="<f8").tobytes()
    elif typ == TagType.ANSI_STRING:
        payload = _pad8(str(tag.value).encode("latin-1") + b"\0")
    elif typ == TagType.WIDE_STRING:
        payload = _pad8(str(tag.value).encode("utf-16-le") + b"\0\0")
    elif _is_variable(typ):
        payload = _pad8(bytes(tag.value))
    else:
        return head(int(tag.value))
    return head(len(payload)) + payload


def _decode_value(typ: int, raw: int, payload: bytes) -> Any:
    if typ == TagType.EMPTY8:
        return None
    if typ == TagType.BOOL8:
        return raw != 0
    if typ == TagType.FLOAT8:
        return struct.unpack("<d", struct.pack("<q", raw))[0]
    if typ == TagType.TDATETIME:
        days = struct.unpack("<d", struct.pack("<q", raw))[0]
        try:
            return _DELPHI_EPOCH + _dt.timedelta(days=days)
        except (OverflowError, ValueError):
            return days  # not a representable date: keep the day count
    if typ == TagType.FLOAT8_ARRAY:
        return np.frombuffer(payload[: len(payload) // 8 * 8], dtype="<f8").copy()
    if typ == TagType.ANSI_STRING:
        return payload.split(b"\0", 1)[0].decode("latin-1")
    if typ == TagType.WIDE_STRING:
        return payload[: len(payload) // 2 * 2].decode("utf-16-le", errors="replace").split("\0", 1)[0]
    if _is_variable(typ):
        return payload  # BinaryBlob, or a variable-length type of a newer format version
    return raw  # Int8, BitSet64, Color8, or an inline type of a newer format version


def _tag_type(typ: int) -> TagType | int:
    try:
        return TagType(typ)
    except ValueError:
        return typ


# ---------------------------------------------------------------------------------------- files
def standard_header(record_type: RecordType, *, global_resolution_s: float, resolution_s: float,
                    sync_rate_hz: int, n_records: int, acquisition_ms: int,
                    hardware: str = "HydraHarp", software_version: str = "0.1.0",
                    extra: Mapping[str, Tag] | Iterable[Tag] | None = None) -> list[Tag]:
    """The tags of ``STANDARD_TAGS`` for a T2/T3 file (plus ``extra``)."""
    record_type = record_type_from(record_type)
    tags = [
        Tag("File_GUID", "{" + str(uuid.uuid4()).upper() + "}", TagType.ANSI_STRING),
        Tag("File_CreatingTime", _dt.datetime.now(_dt.timezone.utc), TagType.TDATETIME),
        Tag("CreatorSW_Name", "avalab", TagType.ANSI_STRING),
        Tag("CreatorSW_Version", software_version, TagType.ANSI_STRING),
        Tag("Measurement_Mode", 3 if record_type.is_t3 else 2, TagType.INT8),
        Tag("Measurement_SubMode", 0, TagType.INT8),
        Tag("HW_Type", hardware, TagType.ANSI_STRING),
        Tag("MeasDesc_GlobalResolution", global_resolution_s, TagType.FLOAT8),
        Tag("MeasDesc_Resolution", resolution_s, TagType.FLOAT8),
        Tag("MeasDesc_AcquisitionTime", acquisition_ms, TagType.INT8),
        Tag(RECORD_COUNT_TAG, n_records, TagType.INT8),
        Tag("TTResult_SyncRate", sync_rate_hz, TagType.INT8),
        Tag("TTResultFormat_BitsPerRecord", 32, TagType.INT8),
        Tag(RECORD_TYPE_TAG, int(record_type), TagType.INT8),
    ]
    if extra:
        tags += list(extra.values()) if isinstance(extra, Mapping) else list(extra)
    return tags


def write_ptu(path: str | Path, tags: list[Tag], records: np.ndarray,
              version: bytes = FORMAT_VERSION) -> None:
    """Write a PTU file: header ``tags`` (Header_End appended) then ``records`` (uint32).

    ``standard_header`` gives the tags readers expect; this only insists on what a reader cannot
    do without: the record type, and a record count (when given) that matches ``records``.
    """
    by_key = {tag.key: tag for tag in tags}
    if RECORD_TYPE_TAG not in by_key:
        raise ValueError(f"tags: missing required tag {RECORD_TYPE_TAG}")
    record_type_from(by_key[RECORD_TYPE_TAG].value)
    records = np.ascontiguousarray(records, dtype="<u4")
    count = by_key.get(RECORD_COUNT_TAG)
    if count is not None and int(count.value) != records.size:
        raise ValueError(f"tags: {RECORD_COUNT_TAG}={count.value} but {records.size} records are written")
    if len(version) != 8:
        raise ValueError(f"version={version!r} must be 8 bytes")
    with open(path, "wb") as out:
        out.write(MAGIC + version)
        for tag in tags:
            out.write(_encode_tag(tag))
        out.write(_encode_tag(Tag("Header_End", None, TagType.EMPTY8)))
        out.write(records.tobytes())


def _read_header(stream: BinaryIO, path: str) -> tuple[bytes, list[Tag]]:
    magic = stream.read(8)
    if magic != MAGIC:
        raise ValueError(f"file={path!r} is not a PTU file (magic {magic!r}, expected {MAGIC!r})")
    version = stream.read(8)
    tags: list[Tag] = []
    while True:
        head = stream.read(_TAG_HEAD.size)
        if len(head) < _TAG_HEAD.size:
            raise ValueError(f"file={path!r}: header ends before Header_End")
        ident_raw, idx, typ_raw, raw = _TAG_HEAD.unpack(head)
        ident = ident_raw.split(b"\0", 1)[0].decode("ascii", errors="replace")
        payload = b""
        if _is_variable(typ_raw):
            if raw < 0:
                raise ValueError(f"file={path!r}: tag {ident!r} has a negative length {raw}")
            payload = stream.read(raw)
            if len(payload) < raw:
                raise ValueError(f"file={path!r}: tag {ident!r} ends the file")
        if ident == "Header_End":
            return version, tags
        tags.append(Tag(ident, _decode_value(typ_raw, raw, payload), _tag_type(typ_raw), idx,
                        raw=payload if _is_variable(typ_raw) else raw))


def read_ptu(path: str | Path, *, memmap: bool = True) -> PtuFile:
    """Read a PTU file; records are memory-mapped by default (files can be many GB)."""
    name = str(path)
    with open(path, "rb") as stream:
        version, header = _read_header(stream, name)
        offset = stream.tell()
    ptu = PtuFile(header=header, records=np.zeros(0, np.uint32), version=version)
    if RECORD_TYPE_TAG not in ptu.tags:
        raise ValueError(f"file={name!r}: missing tag {RECORD_TYPE_TAG}, records cannot be decoded")
    ptu.record_type  # noqa: B018 - refuses an unknown record type with a one-line error
    bits = ptu.value("TTResultFormat_BitsPerRecord", default=32)
    if int(bits) not in (0, 32):
        raise ValueError(f"file={name!r}: TTResultFormat_BitsPerRecord={bits} is not supported; "
                         f"allowed values: 32 (0 is read as 32)")
    available = (os.path.getsize(path) - offset) // 4
    stated = int(ptu.value(RECORD_COUNT_TAG, default=0))
    n_records = stated if stated > 0 else available
    if n_records > available:
        raise ValueError(f"file={name!r}: header promises {n_records} records, file holds {available}")
    if memmap and n_records > 0:
        ptu.records = np.memmap(path, dtype="<u4", mode="r", offset=offset, shape=(n_records,))
    else:
        ptu.records = np.fromfile(path, dtype="<u4", offset=offset, count=n_records)
    return ptu
