"""Laser Quantum Opus (MPC-D) emulator against qudi's MPC client call sequence.

Client: qudi-iqo-modules ``qudi/hardware/laser/laserquantum_laser.py``, ``QL_MPC_command`` (the
client written for the MPC supplies). It cannot be installed next to avalab (it pins
``nidaqmx==1.5.0`` and needs qudi-core with PySide6 and Jupyter), so its call sequence is
re-done in our own pyvisa code (read to learn, not copied), over a pty and over TCP:
``CONTROL?``/``CONTROL=``, ``POWER=`` in mW, ``ON``/``OFF``, ``STATUS?``, ``POWER?`` with its
mW/W handling, ``SETCURRENT1?``, ``CURRENT=``, ``PSUTEMP?``, ``LASTEMP?``, ``STATUSLCD?``,
``SOFTVER?``, ``TIMERS`` (three lines and an empty one); every setter is followed by a read.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
import pyvisa
from conformance_support import Link

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.opus import OpusEmulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def pump(bench: Bench) -> Any:
    device = build_sim_device("pump", bench)
    device.connect()
    return device


def serve_opus(pump: Any, make_link: Any) -> Link:
    return make_link(EmulatorServer(lambda: OpusEmulator(pump), "opus"))


def _number(text: str) -> float:
    """qudi's ``_extract_num``: every character but digits and '.' removed."""
    return float(re.sub(r"[^\d.]", "", text))


def test_qudi_mpc_command_call_sequence(pump: Any, make_link: Any, bench: Bench) -> None:
    link = serve_opus(pump, make_link)
    transport = link.transport
    manager = pyvisa.ResourceManager("@py")
    # QL_common_command.open_visa: CRLF both ways, 2 s timeout (10 s here: CI is a loaded box),
    # 0.1 s query delay; qudi opens ASRL resources (baud rate, send_end); pyvisa-py sockets have neither attribute
    serial_only = {"baud_rate": 19200, "send_end": True} if transport == "pty" else {}
    inst = manager.open_resource(link.visa_address, write_termination="\r\n",
                                 read_termination="\r\n", query_delay=0.1, **serial_only)
    inst.timeout = 10000
    try:
        assert inst.query("CONTROL?") == "POWER"  # get_control_mode
        inst.write("CONTROL=POWER")  # set_control_mode: write + read
        assert inst.read() == ""
        inst.write(f"POWER={0.5 * 1000:f}")  # set_power(0.5 W)
        assert inst.read() == ""
        assert bench.pump.setpoint_w == pytest.approx(0.5)
        inst.write("ON")  # set_laser_state(ON)
        assert inst.read() == ""
        assert "ENABLED" in inst.query("STATUS?")  # get_laser_state
        bench.clock.sleep(60.0)  # past the simulated warm-up
        reply = inst.query("POWER?")  # get_power_W: 'mW' in the reply -> / 1000
        assert "mW" in reply and _number(reply) / 1000 == pytest.approx(0.5, rel=0.05)
        assert _number(inst.query("SETCURRENT1?")) >= 0.0  # get_current_pct
        inst.write("CURRENT=55.5")  # set_current_pct: write + read
        assert inst.read() == ""
        assert _number(inst.query("SETCURRENT1?")) == pytest.approx(55.5)
        assert 0.0 < _number(inst.query("PSUTEMP?")) < 80.0
        assert 0.0 < _number(inst.query("LASTEMP?")) < 80.0
        assert "ENABLED" in inst.query("STATUSLCD?")  # get_lcd
        assert inst.query("SOFTVER?")  # get_firmware_version
        inst.write("TIMERS")  # get_runtimes: three timer lines and an empty one
        hours = [_number(inst.read()) for _ in range(3)]
        assert inst.read() == "" and all(value > 0 for value in hours)
        inst.write("OFF")
        assert inst.read() == ""
        assert "DISABLED" in inst.query("STATUS?") and bench.pump.emission is False
    finally:
        inst.close()
        manager.close()
