"""What the APT conformance tests share: real-time benches (client libraries poll in wall time, so
the simulated stages must move in wall time too) and the emulator of each stage model on them."""
from __future__ import annotations

from typing import Any

from drivers.clock import RealClock
from sim_backends.bench import BeamConfig, Bench, BenchConfig, SampleConfig
from sim_backends.devices import build_sim_device
from sim_backends.emulators.apt import AptEmulator
from sim_backends.emulators.server import EmulatorServer

#: avalab emulator profile -> (role on the bench, axis of the XY stage or None)
MODELS: dict[str, tuple[str, str | None]] = {
    "K10CR1": ("hwp", None),
    "PRM1Z8": ("nd_wheel", None),
    "Z825B": ("xy_stage", "x"),
}


def realtime_bench() -> Bench:
    config = BenchConfig()
    config.stage.velocity_deg_s = 90.0      # short client timeouts: brisk rotation moves
    config.xy_stage.velocity_m_s = 2.3e-3   # the Z8 actuators' own speed
    return Bench(BeamConfig(), SampleConfig(), config, RealClock())


def apt_server(bench: Bench, model: str, serial_number: int = 27000001) -> tuple[EmulatorServer, Any]:
    """An (unstarted) emulator server for ``model`` and the axis it moves (deg or m)."""
    role, axis = MODELS[model]
    device = build_sim_device(role, bench)
    device.connect()
    backing = device.axes[axis] if axis is not None else device  # type: ignore[attr-defined]
    server = EmulatorServer(lambda: AptEmulator(backing, model, serial_number), f"apt-{model}")
    return server, backing
