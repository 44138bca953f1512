"""Thorlabs SC10 emulator against clients other people wrote for the real controller.

Clients:
- pyLabLib (``pylablib-lightweight``), ``pylablib.devices.Thorlabs.serial.ThorlabsSerialInterface``:
  pyLabLib's maintained generic interface for Thorlabs' echo/prompt serial controllers (it has no
  SC10 class; its ``ask``/``write`` are what its FW102 and MDT69xA drivers are built on). Every
  command of the SC10 manual's table goes through it, over a pty and over TCP.
- InstrumentKit's ``instruments.thorlabs.SC10`` cannot be installed here: the newest release on
  PyPI (0.6.0, 2020) pins ``enum34`` and ``ruamel.yaml~=0.15``, which do not build or run on
  Python 3.11. Its read algorithm (``Instrument.sendcmd``/``query``: write ``cmd\\r``, read the
  acknowledgement line, which must equal the command, read the value line for a query, then
  read exactly the two prompt bytes ``"> "``) is followed in our own pyserial code below, with
  every property of its SC10 class.
"""
from __future__ import annotations

import pytest
import serial

from sim_backends.emulators.sc10 import SC10Emulator

from serial_ascii_support import TRANSPORTS, served

pytestmark = pytest.mark.timeout(60)


def test_pylablib_generic_thorlabs_interface_whole_command_table() -> None:
    thorlabs_serial = pytest.importorskip("pylablib.devices.Thorlabs.serial")
    with served("pump_shutter", SC10Emulator) as unit:
        for transport in TRANSPORTS:
            conn = (unit.serial_url(transport), 9600) if transport == "pty" else unit.serial_url(transport)
            device = thorlabs_serial.ThorlabsSerialInterface(conn)
            try:
                assert device.ask("id?").startswith("THORLABS SC10")
                device.write("mode=1")
                assert device.ask("mode?") == "1"
                was_open = unit.device.is_open()
                assert device.ask("ens?") == ("1" if was_open else "0")
                device.write("ens")  # toggles the bench's shutter
                assert unit.device.is_open() is (not was_open)
                assert device.ask("closed?") == ("1" if was_open else "0")
                device.write("ens")
                assert unit.device.is_open() is was_open
                assert device.ask("interlock?") == "0"
                for key, value in (("rep", "12"), ("trig", "1"), ("xto", "1"), ("open", "250"),
                                   ("shut", "999999"), ("mode", "4")):
                    device.write(f"{key}={value}")
                    assert device.ask(f"{key}?") == value
                assert device.ask("baud?") == "0"
                device.write("savp")
                device.write("default")
                assert device.ask("mode?") == "1" and device.ask("open?") == "10"
                device.write("resp")
                assert device.ask("mode?") == "4" and device.ask("open?") == "250"
                device.write("save")
                assert device.ask("?") == "?          Get commands"  # first line of the list
                # the client's own error check (a reply containing "CMD_") raises on errors
                with pytest.raises(thorlabs_serial.ThorlabsError):
                    device.ask("rep=500")
                with pytest.raises(thorlabs_serial.ThorlabsError):
                    device.ask("ID?")  # upper case is not a command (manual p. 15)
                device.write("mode=1")
                assert device.ask("mode?") == "1"  # still in step after the errors
            finally:
                device.close()


class InstrumentKitSequence:
    """InstrumentKit's ``Instrument.sendcmd`` / ``query`` with the SC10's terminator ``\\r``,
    acknowledgement = the command itself and prompt ``"> "``, on a pyserial port."""

    def __init__(self, port: str) -> None:
        self.port = serial.serial_for_url(port, baudrate=9600, timeout=2.0)

    def _line(self) -> str:
        data = self.port.read_until(b"\r")
        assert data.endswith(b"\r"), f"timed out after {data!r}"
        return data[:-1].decode("ascii")

    def _prompt(self) -> None:
        assert self.port.read(2) == b"> "

    def sendcmd(self, command: str) -> None:
        self.port.write(command.encode() + b"\r")
        assert self._line() == command  # AcknowledgementError otherwise
        self._prompt()

    def query(self, command: str) -> str:
        self.port.write(command.encode() + b"\r")
        assert self._line() == command
        value = self._line()
        self._prompt()
        return value

    def close(self) -> None:
        self.port.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_instrumentkit_sc10_call_sequence(transport: str) -> None:
    with served("pump_shutter", SC10Emulator) as unit:
        sc = InstrumentKitSequence(unit.serial_url(transport))
        try:
            assert sc.query("id?").startswith("THORLABS SC10")  # SC10.name
            sc.sendcmd("mode=1")  # SC10.mode = Mode.manual
            assert int(sc.query("mode?")) == 1
            # SC10.enable = True: reads ens? and sends ens only when it differs
            if not bool(int(sc.query("ens?"))):
                sc.sendcmd("ens")
            assert bool(int(sc.query("ens?"))) and unit.device.is_open()
            assert sc.query("closed?") == "0" and sc.query("interlock?") == "0"
            for key, value in (("rep", 20), ("trig", 1), ("xto", 0), ("open", 20), ("shut", 30)):
                sc.sendcmd(f"{key}={value}")  # int_property / unitful_property setters
                assert int(sc.query(f"{key}?")) == value
            sc.sendcmd("baud=0")  # SC10.baud_rate = 9600 (the link keeps its rate)
            assert sc.query("baud?") == "0"
            sc.sendcmd("ens")  # SC10.enable = False
            assert not unit.device.is_open()
        finally:
            sc.close()


@pytest.mark.skip(reason="InstrumentKit client bug: SC10.save()/save_mode()/restore()/default() "
                         "use query() and wait for a value line after savp/save/resp/default; the "
                         "manual's table lists them as commands with no returned value, so the unit "
                         "answers echo + prompt only (its own tests invent a '1' reply)")
def test_instrumentkit_sc10_memory_commands_as_queries() -> None:
    with served("pump_shutter", SC10Emulator) as unit:
        sc = InstrumentKitSequence(unit.serial_url("pty"))
        try:
            for command in ("savp", "save", "resp", "default"):
                assert sc.query(command) == "1"  # what InstrumentKit's check_cmd expects
        finally:
            sc.close()
