"""Journal framing: complete records survive, a torn or corrupted tail is dropped, never misread."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acquisition.storage.journal import JournalAppender, decode_records, encode_record, read_journal


def _records() -> list[bytes]:
    return [encode_record({"type": "point", "index": i, "rate": 100.0 * i},
                          {"histogram": np.arange(50 * (i + 1), dtype=np.int32)})
            for i in range(6)]


def test_round_trip_keeps_json_and_raw_arrays(tmp_path: Path) -> None:
    path = tmp_path / "run.h5.journal"
    journal = JournalAppender(path)
    journal.append({"type": "meta", "nan": float("nan")}, {"trace": np.linspace(0, 1, 5)})
    journal.append({"type": "point", "index": 3})
    journal.close()
    contents = read_journal(path)
    assert contents.problem == "" and contents.trailing_bytes == 0
    assert [r["type"] for r in contents.records] == ["meta", "point"]
    assert np.isnan(contents.records[0]["nan"])
    np.testing.assert_array_equal(contents.records[0]["array_values"]["trace"], np.linspace(0, 1, 5))


def test_truncation_at_every_byte_of_the_last_record_keeps_the_earlier_ones() -> None:
    frames = _records()
    head = b"".join(frames[:-1])
    for cut in range(len(frames[-1])):
        contents = decode_records(head + frames[-1][:cut])
        assert len(contents.records) == len(frames) - 1
        assert [r["index"] for r in contents.records] == list(range(5))
        assert contents.trailing_bytes == cut
        assert (cut == 0) == (contents.problem == "")


def test_a_flipped_byte_drops_only_the_damaged_record() -> None:
    frames = _records()
    data = bytearray(b"".join(frames))
    damaged_at = len(frames[0]) + len(frames[1]) + 40  # inside record 2's payload
    data[damaged_at] ^= 0xFF
    contents = decode_records(bytes(data))
    # every record before it is kept, and so is every complete record after it (their own
    # length and CRC prove them whole)
    assert [r["index"] for r in contents.records] == [0, 1, 3, 4, 5]
    assert "checksum" in contents.problem or "marker" in contents.problem
    assert contents.trailing_bytes == len(frames[2])


def test_records_after_a_torn_one_are_kept_too() -> None:
    """A journal written by a writer that went on after a failed write (what avalab <= 0.1
    did after a brief ENOSPC): recovery keeps the records on both sides of the torn one."""
    frames = _records()
    torn = frames[2][: len(frames[2]) // 2]
    contents = decode_records(b"".join(frames[:2]) + torn + b"".join(frames[3:]))
    assert [r["index"] for r in contents.records] == [0, 1, 3, 4, 5]
    assert contents.trailing_bytes == len(torn)
    assert "torn" in contents.problem or "checksum" in contents.problem or "marker" in contents.problem


def test_appender_refuses_to_reuse_an_existing_journal(tmp_path: Path) -> None:
    path = tmp_path / "x.journal"
    path.write_bytes(b"earlier run")
    with pytest.raises(FileExistsError):
        JournalAppender(path)
    assert path.read_bytes() == b"earlier run"


def test_awkward_arrays_survive_bit_for_bit() -> None:
    arrays = {"strided_big_endian": np.arange(12, dtype=">i2").reshape(3, 4)[:, ::2],
              "flags": np.array([True, False, True]), "empty": np.zeros((0, 3)),
              "complex": np.array([1 + 2j, -3j])}
    decoded = decode_records(encode_record({"type": "point"}, arrays)).records[0]["array_values"]
    for name, array in arrays.items():
        assert decoded[name].dtype == array.dtype and decoded[name].shape == array.shape, name
        np.testing.assert_array_equal(decoded[name], array)
