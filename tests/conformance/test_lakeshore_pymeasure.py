"""Client: pymeasure's ``LakeShore3xx`` (pymeasure.instruments.lakeshore.lakeshore3xx, with the
``LakeShoreTemperatureChannel`` / ``LakeShoreHeaterChannel`` channels), used unmodified, against
the 335 and 336 emulators over TCP and a pty (pyvisa-py, CRLF read termination as the class sets).

Operations: kelvin / Celsius / sensor-unit readings on every input the model has, waiting for a
temperature, setpoint, heater range (off/low/medium/high), heater output, manual output on every
output, and the IEEE 488.2 calls of its SCPI mixin that a Lake Shore has (identity, status byte,
operation complete, clear, reset). pymeasure sends no ``*ESR?``, so the tests read the status
register themselves after each group to check that nothing was refused.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conformance_support import Link, require_client

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.lakeshore import lakeshore_server
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture(params=[335, 336], ids=["335", "336"])
def model(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def ls(model: int, bench: Bench, make_link: Callable[[EmulatorServer], Link]) -> Iterator[Any]:
    require_client("pymeasure.instruments.lakeshore")
    from pymeasure.instruments.lakeshore import LakeShore3xx

    cryostat = build_sim_device("cryostat", bench)
    cryostat.connect()
    link = make_link(lakeshore_server(cryostat, model))
    instrument = LakeShore3xx(link.visa_address, timeout=10000)
    assert no_errors(instrument) in (0, 128)  # the power-on bit is all the first read may show
    yield instrument
    instrument.adapter.close()


def no_errors(instrument: Any) -> int:
    """The event status register, asserted free of query/execution/command errors."""
    esr = int(instrument.ask("*ESR?"))
    assert esr & 0b0011_0100 == 0, f"the emulator flagged an error: ESR={esr}"
    return esr


def test_readings_on_every_input(ls: Any, model: int, bench: Bench) -> None:
    assert ls.input_A.kelvin == pytest.approx(bench.cryostat.stage_k, abs=0.1)
    assert ls.input_B.kelvin == pytest.approx(bench.cryostat.sample_k, abs=0.1)
    assert ls.input_A.celsius == pytest.approx(bench.cryostat.stage_k - 273.15, abs=0.1)
    assert 0.5 < ls.input_A.sensor < 1.2
    if model == 336:  # nothing attached to C and D: disabled inputs read 0
        assert (ls.input_C.kelvin, ls.input_D.kelvin) == (0.0, 0.0)
    no_errors(ls)


def test_wait_for_temperature(ls: Any, bench: Bench) -> None:
    ls.input_A.wait_for_temperature(bench.cryostat.stage_k, accuracy=1.0, interval=0.01, timeout=10)
    no_errors(ls)


def test_setpoint_range_and_heater_output(ls: Any, bench: Bench) -> None:
    ls.output_1.setpoint = 92.5
    assert ls.output_1.setpoint == 92.5 and bench.cryostat.setpoint_k == 92.5
    ls.output_1.range = "medium"
    assert ls.output_1.range == "medium" and bench.cryostat.heater_range == 2
    bench.clock.sleep(300.0)
    assert 0.0 < ls.output_1.output <= 100.0
    ls.output_1.range = "off"
    # a Lake Shore does not answer set commands: the query that follows orders the two
    assert ls.output_1.range == "off" and bench.cryostat.heater_range == 0
    no_errors(ls)


def test_every_output_of_the_model(ls: Any, model: int) -> None:
    outputs = (1, 2) if model == 335 else (1, 2, 3, 4)
    for number in outputs:
        output = getattr(ls, f"output_{number}")
        output.mout = 12.5 * number
        assert output.mout == 12.5 * number
        output.setpoint = 100.0 + number
        assert output.setpoint == 100.0 + number
        output.range = "low"  # on the 336's voltage outputs 3 and 4, 1 means on
        assert output.range == "low"
        output.range = "off"
    no_errors(ls)


def test_ieee488_calls(ls: Any, model: int) -> None:
    assert ls.id.startswith(f"LSCI,MODEL{model},")
    assert ls.complete == "1"
    ls.clear()
    assert int(ls.status) == 0
    ls.output_1.range = "low"
    ls.reset()  # power-up settings: the heater goes off
    assert ls.output_1.range == "off"
    no_errors(ls)
