"""Test helpers for the PM100 and Lake Shore driver tests.

The fakes implement the role interfaces with plain attributes, so a test can set the "true" power
or temperature behind an emulator and check what the whole driver chain made of it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pymeasure.adapters.protocol import ProtocolAdapter

from drivers.errors import InstrumentError
from drivers.interfaces import PowerMeter, TemperatureController
from sim_backends.emulators.server import EmulatorServer


class FakePowerMeter(PowerMeter):
    """A power meter whose reading is whatever ``power_w`` holds (None = saturated head)."""

    model = "fake"

    def __init__(self, power_w: float | None = 1.5e-3) -> None:
        super().__init__(name="fake_pm", address="memory")
        self.power_w = power_w
        self.wavelength_m = 1064e-9
        self.auto_range = True
        self.averaging = 1

    def connect(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def is_connected(self) -> bool:
        return True

    def identify(self) -> str:
        return "fake power meter"

    def set_wavelength(self, wavelength_m: float) -> None:
        self.wavelength_m = wavelength_m

    def get_wavelength(self) -> float:
        return self.wavelength_m

    def read_power(self) -> float:
        if self.power_w is None:
            raise InstrumentError("fake_pm", "memory", "read_power", "over-range")
        return self.power_w

    def set_auto_range(self, on: bool) -> None:
        self.auto_range = on

    def set_averaging(self, count: int) -> None:
        self.averaging = count

    @property
    def relative_uncertainty(self) -> float:
        return 0.05


class FakeTemperatureController(TemperatureController):
    """Temperatures per input from ``temperatures``; setpoints etc. are just remembered."""

    model = "fake"

    def __init__(self, outputs: tuple[int, ...] = (1, 2)) -> None:
        super().__init__(name="fake_tc", address="memory")
        self.temperatures: dict[str, float] = {"A": 77.0, "B": 80.5, "C": 4.2, "D": 300.0}
        self.setpoints = {out: 77.0 for out in outputs}
        self.ranges = {out: 0 for out in outputs}
        self.heater_percent = {out: 12.5 for out in outputs}
        self.ramps = {out: (False, 0.0) for out in outputs}
        self.broken_inputs: set[str] = set()

    def connect(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def is_connected(self) -> bool:
        return True

    def identify(self) -> str:
        return "fake temperature controller"

    def _check_output(self, output: int) -> None:
        if output not in self.setpoints:
            raise ValueError(f"output={output} is not allowed; allowed values: {list(self.setpoints)}")

    def get_temperature(self, channel: str = "A") -> float:
        if channel in self.broken_inputs:
            raise RuntimeError(f"sensor {channel} open circuit")
        return self.temperatures[channel]

    def set_setpoint(self, kelvin: float, output: int = 1) -> None:
        self._check_output(output)
        self.setpoints[output] = kelvin

    def get_setpoint(self, output: int = 1) -> float:
        self._check_output(output)
        return self.setpoints[output]

    def set_heater_range(self, heater_range: int, output: int = 1) -> None:
        self._check_output(output)
        self.ranges[output] = heater_range

    def get_heater_range(self, output: int = 1) -> int:
        self._check_output(output)
        return self.ranges[output]

    def get_heater_output(self, output: int = 1) -> float:
        self._check_output(output)
        return self.heater_percent[output]

    def set_ramp(self, enabled: bool, rate_k_per_s: float, output: int = 1) -> None:
        self._check_output(output)
        self.ramps[output] = (enabled, rate_k_per_s)


# ---------------------------------------------------------------- shared test helpers


#: for links that will answer: generous, as CI is a loaded 2-core machine (the emulators answer
#: in a few ms on an idle one)
REPLY_TIMEOUT_S = 10.0
#: for a test whose point is a timeout or a dropped link (pyvisa-py notices a closed TCP peer
#: when a read times out): a stalled reply is held back by the emulator until the test releases
#: it, so this only bounds the waits; the connect handshake and the commands after the fault
#: must still be answered within it on a loaded machine (1 s failed once at load ~15), hence 3 s
FAST_TIMEOUT_S = 3.0


def address_of(server: EmulatorServer, transport: str) -> str:
    """VISA address of ``server`` over ``transport`` ("pty" or "tcp")."""
    return server.visa_pty_address if transport == "pty" else server.visa_tcp_address


@contextmanager
def serving(server: EmulatorServer) -> Iterator[EmulatorServer]:
    """Serve on a real pty and a real TCP socket; always closed afterwards."""
    server.serve_pty()
    server.serve_tcp()
    try:
        yield server
    finally:
        server.close()


@contextmanager
def scripted(device_factory: Callable[[ProtocolAdapter], Any],
             pairs: list[tuple[bytes | None, bytes | None]]) -> Iterator[Any]:
    """A connected role adapter over pymeasure's ProtocolAdapter; every pair must be used."""
    adapter = ProtocolAdapter(pairs)
    device = device_factory(adapter)
    device.connect()
    yield device
    assert adapter._index == len(pairs), f"unused transcript: {pairs[adapter._index:]}"
    assert adapter._write_buffer is None, f"unexpected bytes written: {adapter._write_buffer!r}"
