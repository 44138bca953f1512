"""HydraHarp T2 decoding throughput: vectorised decoder vs the plain per-record loop.

Both run in the same process on the same records (random photons, markers and overflows), so
the printed ratio holds however noisy the machine is. Goal: >= 50 M records/s on one core for the
vectorised decode + histogram.

    python benchmarks/bench_ptu_decode.py [--records 20000000]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the goal is stated

import numpy as np  # noqa: E402

from drivers.picoquant.ptu import (  # noqa: E402
    decode_t2, decode_t2_reference, t2_histogram_after_markers,
)


def make_records(n: int, seed: int = 0) -> np.ndarray:
    """Photon records on 2 channels with a marker every ~100 records and overflows in between."""
    rng = np.random.default_rng(seed)
    tags = np.sort(rng.integers(0, 1 << 25, n)).astype(np.uint32)
    records = (rng.integers(0, 2, n).astype(np.uint32) << 25) | tags
    markers = rng.random(n) < 0.01
    records[markers] = (1 << 31) | (1 << 25) | tags[markers]
    overflow = rng.random(n) < 0.001
    records[overflow] = (1 << 31) | (0x3F << 25) | 1
    return records


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000_000)
    parser.add_argument("--reference-records", type=int, default=300_000)
    args = parser.parse_args()
    records = make_records(args.records)
    sample = records[: args.reference_records]

    def fast() -> None:
        t2_histogram_after_markers(records, bin_width=1000, n_bins=4096)

    t_fast = best_of(3, fast)
    t_decode = best_of(3, lambda: decode_t2(records))
    t_ref = best_of(1, lambda: decode_t2_reference(sample))
    fast_rate = args.records / t_fast
    decode_rate = args.records / t_decode
    ref_rate = sample.size / t_ref
    print(f"records: {args.records:,} (reference loop on {sample.size:,})")
    print(f"vectorised decode:               {decode_rate / 1e6:8.1f} M records/s")
    print(f"vectorised decode + histogram:   {fast_rate / 1e6:8.1f} M records/s  (goal >= 50)")
    print(f"per-record Python decoder:       {ref_rate / 1e6:8.3f} M records/s")
    print(f"ratio vectorised/per-record:     {decode_rate / ref_rate:8.0f}x")


if __name__ == "__main__":
    main()
