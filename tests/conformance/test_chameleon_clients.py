"""Coherent Chameleon Ultra II emulator against other people's clients for the real laser.

No maintained client for this laser can be installed from PyPI: micro-manager's
``CoherentChameleon`` device adapter is C++ built inside micro-manager; ScopeFoundry's
``chameleon_ultra_ii`` hardware module is not published on PyPI; acq4's ``Coherent`` driver is
on PyPI only as acq4 0.9.2 (2014, Python 2). So the strongest independent checks here are:
- pymeasure's generic ``Instrument`` (a maintained library we do not control) with the manual's
  command table, over VISA on a pty and on TCP;
- the exact call sequences of micro-manager's adapter (``Initialize``: ``ECHO=0`` and
  ``PROMPT=0``, one CRLF answer each, then ``?<KEY>`` queries and ``<KEY>=<value>`` setters
  with its three error-prefix checks) and of ScopeFoundry's driver (long forms ``LASER=``,
  ``SHUTTER=``, ``WAVELENGTH=``, ``PRINT WAVELENGTH``, one ``readline`` per command, "Error"
  in a reply raises), re-done in our own pyserial code (read to learn, not copied).
"""
from __future__ import annotations

import pytest
import serial
from pymeasure.instruments import Instrument

from sim_backends.emulators.chameleon import ChameleonEmulator

from serial_ascii_support import TRANSPORTS, served

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pymeasure_generic_instrument_with_the_manual_command_table(transport: str) -> None:
    with served("control_laser", ChameleonEmulator) as unit:
        laser = Instrument(unit.visa_address(transport), "Chameleon Ultra II", includeSCPI=False,
                           write_termination="\r\n", read_termination="\r\n", timeout=2000,
                           asrl={"baud_rate": 19200})
        try:
            laser.ask("ECHO=0")  # one line each, whatever the unit answers in its state
            laser.ask("PROMPT=0")
            low, high = laser.values("?TMIN")[0], laser.values("?TMAX")[0]
            assert (low, high) == (680.0, 1080.0)
            assert laser.ask("VW=808").strip() == ""
            assert laser.values("?VW")[0] == 808.0
            assert laser.ask("WAVELENGTH=875").strip() == ""
            assert laser.values("PRINT WAVELENGTH")[0] == 875.0
            assert unit.device.get_wavelength() == pytest.approx(875e-9)
            assert laser.ask("L=1").strip() == "" and laser.values("?L")[0] == 1
            assert laser.ask("SHUTTER=1").strip() == "" and laser.values("PRINT SHUTTER")[0] == 1
            assert unit.device.get_shutter() is True
            assert laser.values("?TS")[0] in (0, 1)
            assert laser.values("?UF")[0] >= 0.0
            for query in ("?MDLK", "?K", "?F", "?FH", "?ST", "?SN", "?SV", "?HM", "?SM"):
                assert laser.ask(query).strip() and not laser.ask(query).startswith(" ")
            for setter in ("ALIGN=0", "HEARTBEAT=0", "HEARTBEATRATE=20", "LBO HEATER=1",
                           "SEARCH MODELOCK=1", "HM=1"):
                assert laser.ask(setter).strip() == ""
            assert laser.ask("HEARTBEATRATE=500") == " RANGE ERROR"
            assert laser.ask("NOPE=1") == " Command Error"
            assert laser.ask("?NOPE") == " Query Error"
            assert laser.ask("S=0").strip() == "" and unit.device.get_shutter() is False
        finally:
            laser.adapter.close()


class LineClient:
    """One CRLF line per command, as micro-manager's ``SendCommand`` and ScopeFoundry's
    ``write_cmd`` read them."""

    def __init__(self, port: str) -> None:
        self.port = serial.serial_for_url(port, baudrate=19200, timeout=2.0)

    def command(self, text: str) -> str:
        self.port.write(text.encode() + b"\r\n")
        line = self.port.read_until(b"\r\n")
        assert line.endswith(b"\r\n"), f"no complete answer to {text!r}: {line!r}"
        return line[:-2].decode("ascii")

    def close(self) -> None:
        self.port.close()


def micro_manager_checked(client: LineClient, text: str) -> str:
    """``CoherentChameleon::SendCommand(cmd, checkError=true)``."""
    answer = client.command(text)
    for prefix in (" RANGE ERROR", " Command Error", " Query Error"):
        assert not answer.startswith(prefix), f"{text!r} -> {answer!r}"
    return answer


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_micro_manager_adapter_call_sequence(transport: str) -> None:
    with served("control_laser", ChameleonEmulator) as unit:
        client = LineClient(unit.serial_url(transport))
        try:
            client.command("ECHO=0")  # SendCommand(..., false): answer not checked
            client.command("PROMPT=0")
            low = int(micro_manager_checked(client, "?TMIN"))  # stoi(QueryParameter(...))
            high = int(micro_manager_checked(client, "?TMAX"))
            assert (low, high) == (680, 1080)
            for key in ("S", "L", "K", "UF", "MDLK", "TS", "SM", "HM", "ALIGN", "SN", "ST", "SV",
                        "F", "FH", "VW", "LBOH"):
                assert micro_manager_checked(client, f"?{key}") != ""
            assert micro_manager_checked(client, "?F") == "0"  # split on '&': no fault codes
            micro_manager_checked(client, "L=1")  # SetParameter(LASER, "1")
            micro_manager_checked(client, "VW=745")
            assert micro_manager_checked(client, "?VW") == "745"
            micro_manager_checked(client, "SM=1")
            micro_manager_checked(client, "ALIGN=1")
            micro_manager_checked(client, "ALIGN=0")
            assert unit.device.get_emission() is True
        finally:
            client.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_scopefoundry_driver_call_sequence(transport: str) -> None:
    with served("control_laser", ChameleonEmulator) as unit:
        client = LineClient(unit.serial_url(transport))

        def write_cmd(text: str) -> str:
            answer = client.command(text)
            assert "Error" not in answer, f"{text!r} -> {answer!r}"  # raises IOError there
            return answer.strip()

        try:
            write_cmd("ECHO=0")  # __init__: write_echo_mode(False), write_prompt(False)
            write_cmd("PROMPT=0")
            write_cmd("SHUTTER=1")
            write_cmd("WAVELENGTH=750")
            assert float(write_cmd("PRINT WAVELENGTH")) == 750.0
            assert int(write_cmd("?TS")) in (0, 1, 2, 3)
            write_cmd("ALIGN=1")
            assert int(write_cmd("?ALIGN")) == 1
            write_cmd("ALIGNW=790")
            assert int(write_cmd("?ALIGNW")) == 790
            assert int(write_cmd("?MDLK")) in (0, 1, 2)
            write_cmd("ALIGN=0")
            write_cmd("LASER=1")
            write_cmd("WAVELENGTH STEP=10")
            assert float(write_cmd("PRINT WAVELENGTH")) == 760.0
            assert float(write_cmd("?UF")) >= 0.0 and int(write_cmd("?S")) == 1
            write_cmd("HEARTBEAT=0")
            write_cmd("HEARTBEATRATE=30")
            write_cmd("SEARCH MODELOCK=1")
            assert int(write_cmd("?SM")) == 1
            write_cmd("LBO HEATER=1")
            write_cmd("AMDLK=1")
            assert int(write_cmd("?AMDLK")) == 1
            write_cmd("HM=1")
            assert int(write_cmd("?HM")) == 1
            write_cmd("BAUDRATE=19200")
            write_cmd("SHUTTER=0")
            assert unit.device.get_shutter() is False
            assert unit.device.get_wavelength() == pytest.approx(760e-9)
        finally:
            client.close()
