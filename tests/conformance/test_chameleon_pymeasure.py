"""Coherent Chameleon Ultra II emulator against pymeasure's generic ``Instrument``.

No maintained client for this laser can be installed from PyPI (micro-manager's
``CoherentChameleon`` adapter is C++ inside micro-manager; ScopeFoundry's ``chameleon_ultra_ii``
module is not on PyPI; acq4's ``Coherent`` driver is on PyPI only as acq4 0.9.2, 2014,
Python 2), so the strongest independent checks are this one and the micro-manager and
ScopeFoundry call sequences (test_chameleon_*_sequence.py).

Client: pymeasure (maintained, not ours) ``pymeasure.instruments.Instrument`` with CRLF both
ways and the manual's command table, over VISA on a pty and on TCP. Operations: the handshake
(``ask("ECHO=0")``, ``ask("PROMPT=0")``: one line each), ``ask``/``values`` of queries in both
forms, setters in both forms, error replies.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conformance_support import Link
from pymeasure.instruments import Instrument

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.chameleon import ChameleonEmulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def control_laser(bench: Bench) -> Any:
    device = build_sim_device("control_laser", bench)
    device.connect()
    return device


@pytest.fixture
def laser(control_laser: Any, make_link: Any) -> Iterator[Instrument]:
    link: Link = make_link(EmulatorServer(lambda: ChameleonEmulator(control_laser), "chameleon"))
    instrument = Instrument(link.visa_address, "Chameleon Ultra II", includeSCPI=False,
                            write_termination="\r\n", read_termination="\r\n", timeout=10000,
                            asrl={"baud_rate": 19200})
    instrument.ask("ECHO=0")  # one line each, whatever the unit answers in its state
    instrument.ask("PROMPT=0")
    yield instrument
    instrument.adapter.close()


def test_tuning_limits_and_wavelength_in_both_forms(laser: Instrument, control_laser: Any) -> None:
    assert (laser.values("?TMIN")[0], laser.values("?TMAX")[0]) == (680.0, 1080.0)
    assert laser.ask("VW=808").strip() == ""
    assert laser.values("?VW")[0] == 808.0
    assert laser.ask("WAVELENGTH=875").strip() == ""
    assert laser.values("PRINT WAVELENGTH")[0] == 875.0
    assert control_laser.get_wavelength() == pytest.approx(875e-9)
    assert laser.values("?TS")[0] in (0, 1)


def test_laser_and_shutter_in_both_forms(laser: Instrument, control_laser: Any) -> None:
    assert laser.ask("L=1").strip() == "" and laser.values("?L")[0] == 1
    assert laser.ask("SHUTTER=1").strip() == "" and laser.values("PRINT SHUTTER")[0] == 1
    assert control_laser.get_shutter() is True and control_laser.get_emission() is True
    assert laser.values("?UF")[0] >= 0.0
    assert laser.ask("S=0").strip() == "" and control_laser.get_shutter() is False


def test_status_queries_and_settings(laser: Instrument) -> None:
    for query in ("?MDLK", "?K", "?F", "?FH", "?ST", "?SN", "?SV", "?HM", "?SM"):
        answer = laser.ask(query)
        assert answer.strip() and not answer.startswith(" ")
    for setter in ("ALIGN=0", "HEARTBEAT=0", "HEARTBEATRATE=20", "LBO HEATER=1",
                   "SEARCH MODELOCK=1", "HM=1"):
        assert laser.ask(setter).strip() == ""


def test_error_replies(laser: Instrument) -> None:
    assert laser.ask("HEARTBEATRATE=500") == " RANGE ERROR"
    assert laser.ask("NOPE=1") == " Command Error"
    assert laser.ask("?NOPE") == " Query Error"
    assert laser.values("?VW")[0] > 0  # still in step
