"""Thorlabs MC2000B emulator against clients other people wrote for the real chopper.

Clients:
- ``thorlabs_mc2000b`` (PyPI ``thorlabs-mc2000b``, Patrick Tapping): every property it offers
  (``freq``, ``refoutfreq``, ``blade``, ``nharmonic``, ``dharmonic``, ``phase``, ``enable``,
  ``ref``, ``output``, ``oncycle``, ``intensity``, ``input``), the blade-dependent reference
  helpers and ``get_commands``. It parses every value with ``int()`` and sends a bare CR before
  each command to resynchronise, so integer replies and a prompt for an empty line are needed.
  It opens a local serial port only (``serial.Serial(port=...)``), so it runs over the pty; the
  TCP transport is exercised by pyLabLib below.
- pyLabLib's generic Thorlabs serial interface (``ThorlabsSerialInterface``; pyLabLib has no
  MC2000B class), over a pty and over TCP, with the whole command table.
"""
from __future__ import annotations

import pytest

from sim_backends.emulators.mc2000b import MC2000BEmulator

from serial_ascii_support import TRANSPORTS, served

pytestmark = pytest.mark.timeout(60)


def test_thorlabs_mc2000b_package_full_property_set() -> None:
    package = pytest.importorskip("thorlabs_mc2000b")
    with served("chopper", MC2000BEmulator) as unit:
        chopper = package.MC2000B(unit.serial_url("pty"))
        try:
            assert chopper.id.startswith("THORLABS MC2000B")
            assert chopper.get_blade_string() == unit.device.get_blade()
            chopper.blade = package.Blade.MC1F10A.value
            assert chopper.blade == 9 and unit.device.get_blade() == "MC1F10A"
            chopper.freq = 733
            assert chopper.freq == 733 and unit.device.get_frequency() == 733.0
            chopper.oncycle = 30
            assert chopper.oncycle == 30 and unit.device.get_duty_cycle() == pytest.approx(0.3)
            chopper.phase = 90
            assert chopper.phase == 90
            chopper.nharmonic, chopper.dharmonic = 3, 2
            assert (chopper.nharmonic, chopper.dharmonic) == (3, 2)
            chopper.intensity = 7
            assert chopper.intensity == 7
            chopper.set_inref_string("external")
            assert chopper.get_inref_string() == "external" and chopper.ref == 1
            chopper.set_outref_string("actual")
            assert chopper.get_outref_string() == "actual" and chopper.output == 1
            assert chopper.input == 0
            chopper.enable = True
            assert chopper.enable == 1 and unit.device.get_enabled() is True
            unit.bench.clock.sleep(5.0)  # the blade spins up on the bench's clock
            assert abs(chopper.refoutfreq - 733) <= 5  # the bench's blade jitters a little
            with pytest.raises(RuntimeError, match="Could not set"):
                chopper.blade = 4  # refused while spinning; the client reports the error line
            chopper.enable = False
            assert unit.device.get_enabled() is False
            assert "oncycle" in chopper.get_commands()
        finally:
            chopper.close()


def test_pylablib_generic_thorlabs_interface_whole_command_table() -> None:
    thorlabs_serial = pytest.importorskip("pylablib.devices.Thorlabs.serial")
    with served("chopper", MC2000BEmulator) as unit:
        for transport in TRANSPORTS:
            conn = (unit.serial_url(transport), 115200) if transport == "pty" else unit.serial_url(transport)
            device = thorlabs_serial.ThorlabsSerialInterface(conn)
            try:
                assert device.ask("id?").startswith("THORLABS MC2000B")
                device.write("enable=0")
                device.write("blade=4")  # MC1F60
                assert device.ask("blade?") == "4" and unit.device.get_blade() == "MC1F60"
                device.write("freq=2500")
                assert device.ask("freq?") == "2500"
                assert device.ask("oncycle?") == "50"  # fixed 50 % blade
                device.write("blade=9")
                for key, value in (("freq", "500"), ("oncycle", "25"), ("phase", "180"),
                                   ("nharmonic", "5"), ("dharmonic", "7"), ("ref", "1"),
                                   ("output", "1"), ("intensity", "3"), ("verbose", "0")):
                    device.write(f"{key}={value}")
                    assert device.ask(f"{key}?") == value
                assert device.ask("input?") == "0"
                device.write("enable=1")
                assert device.ask("enable?") == "1"
                unit.bench.clock.sleep(5.0)
                assert abs(int(device.ask("refoutfreq?")) - 500) <= 5
                with pytest.raises(thorlabs_serial.ThorlabsError):
                    device.ask("ref=0")  # only while stopped
                device.write("enable=0")
                with pytest.raises(thorlabs_serial.ThorlabsError):
                    device.ask("output=3")  # the MC1F10A has target/actual only
                with pytest.raises(thorlabs_serial.ThorlabsError):
                    device.ask("FREQ?")
                device.write("restore")
                assert device.ask("phase?") == "0" and device.ask("ref?") == "0"
            finally:
                device.close()
