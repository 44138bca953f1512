"""The emulators' own bytes (sans-IO): framing, terminators, echoes, prompts and error replies
exactly as instruments.md describes them, independent of the drivers."""
from __future__ import annotations

import pytest

from sim_backends.emulators.chameleon import ChameleonEmulator
from sim_backends.emulators.mc2000b import MC2000BEmulator
from sim_backends.emulators.opus import OpusEmulator
from sim_backends.emulators.sc10 import SC10Emulator

from .fakes import FakeChopper, FakeControlLaser, FakePumpLaser, FakeShutter


def test_opus_accepts_cr_and_crlf_and_answers_with_units() -> None:
    laser = FakePumpLaser()
    opus = OpusEmulator(laser)
    assert opus.feed(b"POWER=123.4\r") == b"\r\n"
    assert opus.feed(b"ON\r\n") == b"\r\n"
    assert opus.feed(b"POWER?\r\n") == b"0123.4mW\r\n"
    assert opus.feed(b"STATUS?\r") == b"ENABLED\r\n"
    assert opus.feed(b"LASTEMP?\r\n").endswith(b"C\r\n")
    assert b"MPC-D" in opus.feed(b"VERSION?\r\n")
    timers = opus.feed(b"TIMERS?\r\n").split(b"\r\n")
    assert [b"Hours" in line for line in timers] == [True, True, True, False, False]
    assert opus.feed(b"POWER=3500\r\n").startswith(b"Error")
    assert opus.feed(b"FLY\r\n").startswith(b"Error")


def test_opus_mpc_command_set_beyond_avalab_subset() -> None:
    laser = FakePumpLaser()
    opus = OpusEmulator(laser)
    assert opus.feed(b"POWER=500\r\n") == b"\r\n"
    assert opus.feed(b"SETPOWER?\r\n") == b"0500.0mW\r\n"
    assert opus.feed(b"POWER?\r\n") == b"0000.0mW\r\n"  # emission off: no output yet
    assert opus.feed(b"CONTROL?\r\n") == b"POWER\r\n"
    assert opus.feed(b"CURRENT=62.5\r\n") == b"\r\n"
    assert opus.feed(b"SETCURRENT1?\r\n") == b"062.5%\r\n"
    assert opus.feed(b"INTERLOCK?\r\n") == b"ENABLED\r\n"
    assert opus.feed(b"SOFTVER?\r\n") == b"1.0.33\r\n"
    assert opus.feed(b"SERIAL?\r\n") == b"OPUS-SIM-1064\r\n"
    assert opus.feed(b"on\r\n") == b"\r\n" and laser.emission is True
    assert opus.feed(b"STATUSLCD?\r\n") == b"ENABLED 0500.0mW\r\n"
    assert opus.feed(b"TIMERS\r\n") == opus.feed(b"TIMERS?\r\n")
    assert opus.feed(b"HTEMP?\r\n") == b"Error: Unknown command\r\n"  # FPU60 / Finesse only


def test_opus_old_firmware_and_silent_setters() -> None:
    opus = OpusEmulator(FakePumpLaser(), line_ending="\r", ack_setters=False)
    assert opus.feed(b"POWER=10\r") == b""
    assert opus.feed(b"STATUS?\r") == b"DISABLED\r"


def test_mc2000b_echo_value_prompt_and_errors() -> None:
    chopper = FakeChopper()
    mc = MC2000BEmulator(chopper)
    assert mc.feed(b"freq=1000\r") == b"freq=1000\r> "
    assert mc.feed(b"freq?\r") == b"freq?\r1000\r> "
    assert mc.feed(b"blade=4\r") == b"blade=4\r> " and chopper.blade == "MC1F60"
    assert mc.feed(b"freq=50\r") == b"freq=50\rCommand error CMD_ARG_INVALID\r> "
    assert mc.feed(b"spin?\r") == b"spin?\rCommand error CMD_NOT_DEFINED\r> "
    assert mc.feed(b"enable=1\r") == b"enable=1\r> "
    assert mc.feed(b"blade=9\r") == b"blade=9\rCommand error CMD_ARG_INVALID\r> "
    assert chopper.blade == "MC1F60"  # refused while running


def test_chameleon_echo_and_prompt_on_until_switched_off() -> None:
    cham = ChameleonEmulator(FakeControlLaser())
    assert cham.feed(b"?SN\r\n") == b"?SN\r\nCHUII-SIM-0001\r\nCHAMELEON> "
    assert cham.feed(b"ECHO=0\r\n") == b"ECHO=0\r\nCHAMELEON> "  # echo goes off afterwards
    assert cham.feed(b"?VW\r\n") == b"808\r\nCHAMELEON> "
    assert cham.feed(b"PROMPT=0\r\n") == b"\r\n"  # the prompt goes off at once
    assert cham.feed(b"?VW\r\n") == b"808\r\n"
    assert cham.feed(b"VW=1200\r\n") == b"\r\n"  # beyond the range: set to the limit
    assert cham.feed(b"?VW\r\n") == b"1080\r\n"
    assert cham.feed(b"L=5\r\n") == b" RANGE ERROR\r\n"
    assert cham.feed(b"XYZ=1\r\n") == b" Command Error\r\n"
    assert cham.feed(b"?XYZ\r\n") == b" Query Error\r\n"
    assert cham.feed(b"VW=875\r\n") == b"\r\n"
    assert cham.feed(b"?TS\r\n") == b"1\r\n"


@pytest.mark.parametrize("order", [(b"ECHO=0", b"PROMPT=0"), (b"PROMPT=0", b"ECHO=0")])
@pytest.mark.parametrize("echo,prompt", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_chameleon_handshake_leaves_one_line_per_command_from_any_state(
        order: tuple[bytes, bytes], echo: int, prompt: int) -> None:
    """A client reading one CRLF line per command must be in step after the handshake, whatever
    state the unit was left in (micro-manager sends ECHO=0 then PROMPT=0, acq4 the reverse)."""
    cham = ChameleonEmulator(FakeControlLaser())
    cham.flags.update(ECHO=echo, PROMPT=prompt)
    stream = b"".join(cham.feed(command + b"\r\n") for command in order)
    stream += cham.feed(b"?VW\r\n")
    lines = stream.split(b"\r\n")
    assert len(lines) == 4 and lines[3] == b""  # three lines, nothing left after the last
    assert lines[2] == b"808"


def test_chameleon_long_forms_and_print_queries() -> None:
    laser = FakeControlLaser()
    cham = ChameleonEmulator(laser)
    cham.flags.update(ECHO=0, PROMPT=0)
    assert cham.feed(b"LASER=1\r\n") == b"\r\n" and laser.get_emission() is True
    assert cham.feed(b"SHUTTER=1\r\n") == b"\r\n" and laser.get_shutter() is True
    assert cham.feed(b"WAVELENGTH=745\r\n") == b"\r\n"
    assert cham.feed(b"PRINT WAVELENGTH\r\n") == b"745\r\n"
    assert cham.feed(b"WAVELENGTH STEP=10\r\n") == b"\r\n"
    assert cham.feed(b"?VW\r\n") == b"755\r\n"
    assert cham.feed(b"PRINT LASER\r\n") == b"1\r\n"
    assert cham.feed(b"PRINT SHUTTER\r\n") == b"1\r\n"
    assert cham.feed(b"PRINT TUNING LIMIT MAX\r\n") == b"1080\r\n"
    assert cham.feed(b"SEARCH MODELOCK=0\r\n") == b"\r\n" and cham.feed(b"?SM\r\n") == b"0\r\n"
    assert cham.feed(b"LBO HEATER=1\r\n") == b"\r\n" and cham.feed(b"?LBOH\r\n") == b"1\r\n"
    assert cham.feed(b"HOME STEPPER=1\r\n") == b"\r\n" and cham.feed(b"PRINT HOMED\r\n") == b"1\r\n"
    assert cham.feed(b"HEARTBEATRATE=500\r\n") == b" RANGE ERROR\r\n"
    assert cham.feed(b"ALIGNW=790\r\n") == b"\r\n" and cham.feed(b"?ALIGNW\r\n") == b"790\r\n"
    assert cham.feed(b"PRINT D1T\r\n") == b" Query Error\r\n"  # head telemetry: not modelled
    assert cham.feed(b"shutter=0\r\n") == b"\r\n" and laser.get_shutter() is False


def test_sc10_query_and_set_commands_share_one_frame_shape() -> None:
    shutter = FakeShutter()
    sc10 = SC10Emulator(shutter)
    assert sc10.feed(b"id?\r").startswith(b"id?\rTHORLABS SC10") and sc10.feed(b"id?\r").endswith(b"\r> ")
    assert sc10.feed(b"mode=1\r") == b"mode=1\r> "
    assert sc10.feed(b"ens?\r") == b"ens?\r0\r> "
    assert sc10.feed(b"ens\r") == b"ens\r> " and shutter.opened is True
    assert sc10.feed(b"closed?\r") == b"closed?\r0\r> "
    assert sc10.feed(b"ens\r") == b"ens\r> " and shutter.opened is False
    assert sc10.feed(b"rep=100\r") == b"rep=100\rCommand error CMD_ARG_INVALID\r> "
    assert sc10.feed(b"open=1000000\r") == b"open=1000000\rCommand error CMD_ARG_INVALID\r> "
    assert sc10.feed(b"fly\r") == b"fly\rCommand error CMD_NOT_DEFINED\r> "


def test_sc10_lower_case_only_empty_line_prompt_and_command_list() -> None:
    sc10 = SC10Emulator(FakeShutter())
    # "All commands and queries are in lower case letters" (SC10 manual p. 15)
    assert sc10.feed(b"ID?\r") == b"ID?\rCommand error CMD_NOT_DEFINED\r> "
    assert sc10.feed(b"\r") == b"\r> "
    assert sc10.feed(b"baud?\r\n") == b"baud?\r0\r> "  # a stray LF is ignored
    listing = sc10.feed(b"?\r").decode().split("\r")
    assert listing[0] == "?" and listing[-1] == "> "
    keywords = {line.split()[0] for line in listing[1:-1]}
    assert keywords == {"?", "id?", "ens", "ens?", "rep=n", "rep?", "mode=n", "mode?", "trig=n",
                        "trig?", "xto=n", "xto?", "open=n", "open?", "shut=n", "shut?", "closed?",
                        "interlock?", "baud=n", "baud?", "save", "savp", "resp"}


def test_sc10_memory_savp_resp_save_and_default() -> None:
    memory: dict[str, int] = {}
    sc10 = SC10Emulator(FakeShutter(), stored=memory)
    for command in (b"mode=4\r", b"open=250\r", b"rep=7\r", b"xto=1\r", b"savp\r"):
        assert sc10.feed(command).endswith(b"\r> ")
    assert memory["mode"] == 4 and memory["open"] == 250 and memory["rep"] == 7
    assert memory["xto"] == 0  # savp does not store the output trigger; save does
    assert sc10.feed(b"save\r") == b"save\r> " and memory["xto"] == 1
    assert sc10.feed(b"default\r") == b"default\r> "
    assert sc10.feed(b"mode?\r") == b"mode?\r1\r> " and sc10.feed(b"open?\r") == b"open?\r10\r> "
    assert sc10.feed(b"resp\r") == b"resp\r> "
    assert sc10.feed(b"mode?\r") == b"mode?\r4\r> " and sc10.feed(b"rep?\r") == b"rep?\r7\r> "
    restarted = SC10Emulator(FakeShutter(), stored=memory)  # a power cycle keeps the memory
    assert restarted.feed(b"open?\r") == b"open?\r250\r> "


def test_mc2000b_integers_oncycle_reference_codes_and_command_list() -> None:
    chopper = FakeChopper()
    mc = MC2000BEmulator(chopper)
    assert mc.feed(b"\r") == b"\r> "
    assert mc.feed(b"FREQ?\r") == b"FREQ?\rCommand error CMD_NOT_DEFINED\r> "
    assert mc.feed(b"oncycle=30\r") == b"oncycle=30\r> " and chopper.duty == pytest.approx(0.3)
    assert mc.feed(b"oncycle?\r") == b"oncycle?\r30\r> "
    assert mc.feed(b"cycle?\r") == b"cycle?\rCommand error CMD_NOT_DEFINED\r> "
    assert mc.feed(b"freq=733\r") == b"freq=733\r> "
    assert mc.feed(b"enable=1\r") == b"enable=1\r> "
    assert mc.feed(b"refoutfreq?\r") == b"refoutfreq?\r733\r> "
    assert mc.feed(b"input?\r") == b"input?\r0\r> "
    assert mc.feed(b"enable=0\r") == b"enable=0\r> "
    # MC1F10A: ref internal/external, output target/actual (manual chapters 8.3 / 8.4)
    assert mc.feed(b"ref=2\r") == b"ref=2\rCommand error CMD_ARG_INVALID\r> "
    assert mc.feed(b"output=1\r") == b"output=1\r> "
    assert mc.feed(b"nharmonic=4\r") == b"nharmonic=4\r> " and mc.feed(b"nharmonic?\r") == b"nharmonic?\r4\r> "
    assert mc.feed(b"intensity?\r") == b"intensity?\r5\r> "
    assert mc.feed(b"restore\r") == b"restore\r> " and mc.feed(b"output?\r") == b"output?\r0\r> "
    listing = mc.feed(b"?\r").decode().split("\r")
    keywords = {line.split()[0] for line in listing[1:-1]}
    assert {"oncycle=n", "oncycle?", "refoutfreq?", "input?", "restore", "verbose=n"} <= keywords
