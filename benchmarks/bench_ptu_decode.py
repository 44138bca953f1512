"""PTU decoding throughput: avalab's reader vs the compiled reference reader ``ptufile``.

Both read and decode the SAME files in the same run: a HydraHarp v2 T2 file and a T3 file of
``--records`` records each (photons on two detectors, chopper markers, overflow records), written
once by avalab's PTU writer. ``ptufile`` (Cython; ``PtuFile.decode_records``) decodes every record
into a record array; avalab (``read_ptu`` + ``decode_t2`` / ``decode_t3``) into photon and
marker arrays. The printed ratio is ptufile's time over ours (goal: >= 1 for T2 and for T3).
The fused T2 decode + histogram after the markers (what the HydraHarp driver runs) is timed too.

    python benchmarks/bench_ptu_decode.py [--records 20000000]

Needs the ``[conformance]`` extra (ptufile).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.picoquant.ptu import read_ptu, standard_header, write_ptu
from drivers.picoquant.records import (RecordType, decode_t2, decode_t3,
                                       t2_histogram_after_markers)


def make_t2_records(n: int, rng: np.random.Generator) -> np.ndarray:
    """Photons on 2 channels at ~30 per overflow period, a marker every ~100 records."""
    tags = np.sort(rng.integers(0, 1 << 25, n)).astype(np.uint32)
    records = (rng.integers(0, 2, n).astype(np.uint32) << 25) | tags
    markers = rng.random(n) < 0.01
    records[markers] = (1 << 31) | (1 << 25) | tags[markers]
    overflow = rng.random(n) < 1 / 30
    records[overflow] = (1 << 31) | (0x3F << 25) | 1
    return records


def make_t3_records(n: int, rng: np.random.Generator) -> np.ndarray:
    """Photons on 2 channels with random delays, a marker every ~1000 records, overflows."""
    nsync = np.sort(rng.integers(0, 1024, n)).astype(np.uint32)
    dtime = rng.integers(0, 1 << 15, n).astype(np.uint32)
    records = (rng.integers(0, 2, n).astype(np.uint32) << 25) | (dtime << 10) | nsync
    markers = rng.random(n) < 0.001
    records[markers] = (1 << 31) | (1 << 25) | nsync[markers]
    overflow = rng.random(n) < 0.01
    records[overflow] = (1 << 31) | (0x3F << 25) | 1
    return records


def write_file(path: Path, record_type: RecordType, records: np.ndarray) -> None:
    tags = standard_header(record_type, global_resolution_s=1e-12 if not record_type.is_t3 else 12.5e-9,
                           resolution_s=1e-12, sync_rate_hz=80_000_000, n_records=records.size,
                           acquisition_ms=1000)
    write_ptu(path, tags, records)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        import ptufile
    except ImportError:
        print("ptufile is not installed: pip install -e '.[conformance]'", file=sys.stderr)
        return 2

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "T2": (Path(folder) / "t2.ptu", RecordType.HYDRAHARP_V2_T2, make_t2_records(args.records, rng)),
            "T3": (Path(folder) / "t3.ptu", RecordType.HYDRAHARP_V2_T3, make_t3_records(args.records, rng)),
        }
        for path, record_type, records in files.values():
            write_file(path, record_type, records)
        decode_t2(files["T2"][2][:1024])  # compile (or load the cached compilation) before timing
        decode_t3(files["T3"][2][:1024])

        def ours_t2() -> object:
            ptu = read_ptu(files["T2"][0])
            return decode_t2(ptu.records, ptu.record_type)

        def ours_t3() -> object:
            ptu = read_ptu(files["T3"][0])
            return decode_t3(ptu.records, ptu.record_type)

        def reference(path: Path) -> Callable[[], object]:
            def run() -> object:
                with ptufile.PtuFile(path) as ptu:
                    return ptu.decode_records()
            return run

        def fused_histogram() -> object:
            ptu = read_ptu(files["T2"][0])
            return t2_histogram_after_markers(ptu.records, 1000, 4096, ptu.record_type)

        # same file, same answer: photon counts agree before anything is timed (ptufile puts
        # the T2 sync on channel 0 with the first detector)
        for mode, ours in (("T2", ours_t2), ("T3", ours_t3)):
            theirs = int(np.count_nonzero(reference(files[mode][0])()["channel"] >= 0))
            events = ours()
            mine = (events.photon_times.size + events.sync_times.size if mode == "T2"
                    else events.nsync.size)
            if mine != theirs:
                raise SystemExit(f"{mode} photon counts differ: ptufile {theirs}, avalab {mine}")

        print(f"records per file: {args.records:,} (HydraHarp v2), best of {args.repeats}, ptufile "
              f"{ptufile.__version__}")
        for mode, ours in (("T2", ours_t2), ("T3", ours_t3)):
            t_ref = best_of(args.repeats, reference(files[mode][0]))
            t_ours = best_of(args.repeats, ours)
            print(f"{mode} read + decode: avalab {args.records / t_ours / 1e6:7.1f} M records/s, "
                  f"ptufile {args.records / t_ref / 1e6:7.1f} M records/s, ratio {t_ref / t_ours:5.2f}x "
                  f"(goal >= 1)")
        t_hist = best_of(args.repeats, fused_histogram)
        print(f"T2 read + decode + marker histogram (driver path): "
              f"{args.records / t_hist / 1e6:7.1f} M records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
