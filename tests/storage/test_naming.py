"""Two runs started within one second get different files (queued runs on a virtual clock do)."""
from pathlib import Path

from acquisition.storage.naming import new_run_path


def test_a_second_run_in_the_same_second_gets_a_counter(tmp_path: Path) -> None:
    first = new_run_path(tmp_path, "sweep", now=0.0)
    first.write_bytes(b"")
    second = new_run_path(tmp_path, "sweep", now=0.0)
    second.write_bytes(b"")
    third = new_run_path(tmp_path, "sweep", now=0.0)
    assert first.name.endswith("_sweep.h5")
    assert second.name == first.name.replace(".h5", "_2.h5")
    assert third.name == first.name.replace(".h5", "_3.h5")
