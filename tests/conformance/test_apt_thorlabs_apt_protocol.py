"""yaq's ``thorlabs-apt-protocol`` (PyPI ``thorlabs-apt-protocol``, module ``thorlabs_apt_protocol``):
a sans-IO codec of the APT manual's message list. Driven here the way its README shows, over
pyserial (``serial_for_url``: the pty as a COM port, or a ``socket://`` bridge), against the
APT emulator of each stage model (K10CR1; KDC101 with a PRM1Z8 or a Z825B) on a real-time bench.

Operations: identity (HW_REQ_INFO -> HW_GET_INFO; the client drops the stage id), channel enable state,
position counter, velocity / jog / home / limit-switch / general-move / relative-move /
absolute-move parameters (set, then request -> get), homing, absolute and relative moves in the
long and in the 6-byte short form (stored parameters), jog, velocity move + stop, status
updates (both requests and HW_START_UPDATEMSGS; the client has no MOT_REQ_STATUSBITS),
end-of-move suspension.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import serial
from apt_support import apt_server, realtime_bench
from conformance_support import Link, require_client

from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, Z8_SCALING

HOST, DEVICE = 0x01, 0x50
SCALES = {"K10CR1": K10CR1_SCALING, "PRM1Z8": PRM1Z8_SCALING, "Z825B": Z8_SCALING}
#: a move each model makes in well under a second on the real-time bench (deg, deg, m)
STEP = {"K10CR1": 20.0, "PRM1Z8": 20.0, "Z825B": 0.5e-3}


class Client:
    """The library's functions + Unpacker on a pyserial port (what its README does)."""

    def __init__(self, apt: Any, port: serial.Serial) -> None:
        self.apt = apt
        self.port = port
        self.unpacker = apt.Unpacker(port)

    def send(self, name: str, **fields: Any) -> None:
        self.port.write(getattr(self.apt, name)(dest=DEVICE, source=HOST, **fields))

    def expect(self, msg: str, timeout_s: float = 30.0) -> Any:
        """The next message named ``msg`` (others, e.g. status updates, are passed over)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.unpacker:
                if message.msg == msg:
                    return message
        raise AssertionError(f"no {msg} within {timeout_s} s")

    def query(self, name: str, reply: str, **fields: Any) -> Any:
        self.send(name, **fields)
        return self.expect(reply)


@pytest.fixture(params=["K10CR1", "PRM1Z8", "Z825B"])
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def session(model: str, make_link: Any) -> Iterator[tuple[Client, Any]]:
    apt = require_client("thorlabs_apt_protocol", "thorlabs-apt-protocol")
    server, axis = apt_server(realtime_bench(), model, serial_number=27000042)
    link: Link = make_link(server)
    port = serial.serial_for_url(link.serial_url, baudrate=115200, timeout=0.05)
    if link.transport == "pty":
        port.reset_input_buffer()
    else:  # the README's FTDI start-up (a pty has no modem lines to toggle)
        port.rts = True
        port.reset_input_buffer()
        port.reset_output_buffer()
        port.rts = False
    client = Client(apt, port)
    client.send("hw_no_flash_programming")
    yield client, axis
    port.close()


def test_identity(session: tuple[Client, Any], model: str) -> None:
    client, _ = session
    info = client.query("hw_req_info", "hw_get_info")
    assert info.serial_number == 27000042
    assert info.model_number.rstrip(b"\0") == (b"K10CR1" if model == "K10CR1" else b"KDC101")
    assert info.firmware_version == ([3, 0, 10] if model == "K10CR1" else [3, 0, 14])
    assert info.nchs == 1


def test_channel_enable_state(session: tuple[Client, Any]) -> None:
    client, _ = session
    client.send("mod_set_chanenablestate", chan_ident=1, enable_state=2)
    assert client.query("mod_req_chanenablestate", "mod_get_chanenablestate", chan_ident=1).enabled is False
    client.send("mod_set_chanenablestate", chan_ident=1, enable_state=1)
    assert client.query("mod_req_chanenablestate", "mod_get_chanenablestate", chan_ident=1).enabled is True


def test_parameter_sets_read_back(session: tuple[Client, Any]) -> None:
    client, _ = session
    client.send("mot_set_velparams", chan_ident=1, min_velocity=0, acceleration=1234, max_velocity=56789)
    vel = client.query("mot_req_velparams", "mot_get_velparams", chan_ident=1)
    assert (vel.min_velocity, vel.acceleration, vel.max_velocity) == (0, 1234, 56789)
    client.send("mot_set_jogparams", chan_ident=1, jog_mode=2, step_size=4321, min_velocity=0,
                acceleration=1234, max_velocity=56789, stop_mode=2)
    jog = client.query("mot_req_jogparams", "mot_get_jogparams", chan_ident=1)
    assert (jog.jog_mode, jog.step_size, jog.stop_mode) == (2, 4321, 2)
    client.send("mot_set_genmoveparams", chan_ident=1, backlash_distance=99)
    assert client.query("mot_req_genmoveparams", "mot_get_genmoveparams",
                        chan_ident=1).backlash_distance == 99
    client.send("mot_set_moverelparams", chan_ident=1, relative_distance=-777)
    assert client.query("mot_req_moverelparams", "mot_get_moverelparams",
                        chan_ident=1).relative_distance == -777
    client.send("mot_set_moveabsparams", chan_ident=1, absolute_position=888)
    assert client.query("mot_req_moveabsparams", "mot_get_moveabsparams",
                        chan_ident=1).absolute_position == 888
    client.send("mot_set_homeparams", chan_ident=1, home_dir=2, limit_switch=1, home_velocity=5000,
                offset_distance=10)
    home = client.query("mot_req_homeparams", "mot_get_homeparams", chan_ident=1)
    assert (home.home_dir, home.limit_switch, home.home_velocity, home.offset_distance) == (2, 1, 5000, 10)
    # the client packs and unpacks the soft limits unsigned ("<3HLLH"; the manual: long), so
    # only positive limits go through it
    client.send("mot_set_limswitchparams", chan_ident=1, cw_hardlimit=2, ccw_hardlimit=2,
                cw_softlimit=1000, ccw_softlimit=500, soft_limit_mode=1)
    limits = client.query("mot_req_limswitchparams", "mot_get_limswitchparams", chan_ident=1)
    assert (limits.cw_hardlimit, limits.cw_softlimit, limits.ccw_softlimit) == (2, 1000, 500)


def test_long_and_short_absolute_and_relative_moves(session: tuple[Client, Any], model: str) -> None:
    client, axis = session
    scale, step = SCALES[model], STEP[model]
    start = axis.get_position()
    target = scale.to_counts(start + step)
    client.send("mot_move_absolute", chan_ident=1, position=target)
    assert client.expect("mot_move_completed").position == target
    client.send("mot_set_moveabsparams", chan_ident=1, absolute_position=scale.to_counts(start))
    client.send("mot_move_absolute", chan_ident=1, position=None)          # 6-byte short form
    assert client.expect("mot_move_completed").position == scale.to_counts(start)
    client.send("mot_move_relative", chan_ident=1, distance=scale.to_counts(step))
    client.expect("mot_move_completed")
    client.send("mot_set_moverelparams", chan_ident=1, relative_distance=-scale.to_counts(step))
    client.send("mot_move_relative", chan_ident=1, distance=None)           # 6-byte short form
    done = client.expect("mot_move_completed")
    assert abs(done.position - scale.to_counts(start)) <= 2
    assert axis.get_position() == pytest.approx(start, abs=3 * scale.resolution)
    position = client.query("mot_req_poscounter", "mot_get_poscounter", chan_ident=1).position
    assert abs(position - scale.to_counts(start)) <= 2


def test_jog_velocity_stop_and_status(session: tuple[Client, Any], model: str) -> None:
    client, axis = session
    scale, step = SCALES[model], STEP[model]
    start = axis.get_position()
    client.send("mot_set_jogparams", chan_ident=1, jog_mode=2, step_size=scale.to_counts(step),
                min_velocity=0, acceleration=scale.accel_to_device(10 * step),
                max_velocity=scale.velocity_to_device(4 * step), stop_mode=2)
    client.send("mot_move_jog", chan_ident=1, direction=1)
    status = client.query("mot_req_statusupdate", "mot_get_statusupdate", chan_ident=1)
    assert status.jogging_forward or status.settled or not status.moving_forward
    client.expect("mot_move_completed")
    assert axis.get_position() == pytest.approx(start + step, abs=3 * scale.resolution)
    client.send("mot_move_velocity", chan_ident=1, direction=2)
    time.sleep(0.1)
    update = client.query("mot_req_dcstatusupdate", "mot_get_dcstatusupdate", chan_ident=1)
    assert update.moving_reverse
    client.send("mot_move_stop", chan_ident=1, stop_mode=1)
    stopped = client.expect("mot_move_stopped")
    assert not (stopped.moving_forward or stopped.moving_reverse)
    client.send("mot_req_statusupdate", chan_ident=1)
    assert client.expect("mot_get_statusupdate").position == stopped.position


def test_update_messages_and_end_of_move_suspension(session: tuple[Client, Any], model: str) -> None:
    client, axis = session
    update = "mot_get_statusupdate" if model == "K10CR1" else "mot_get_dcstatusupdate"
    client.send("hw_start_updatemsgs")
    first, second = client.expect(update), client.expect(update)
    assert first.position == second.position
    client.send("hw_stop_updatemsgs")
    client.send("mot_suspend_endofmovemsges")
    scale, step = SCALES[model], STEP[model]
    client.send("mot_move_relative", chan_ident=1, distance=scale.to_counts(step / 4))
    # the move ends while end-of-move messages are suspended: a reply proves the unit has started
    # it, then wait for the stage to stop; two requests answered in turn after that prove the
    # emulator has looked at the stopped stage since
    client.query("mot_req_poscounter", "mot_get_poscounter", chan_ident=1)
    deadline = time.monotonic() + 60
    while axis.is_moving():
        assert time.monotonic() < deadline, "the move never ended"
        time.sleep(0.01)
    for _ in range(2):
        client.query("mot_req_poscounter", "mot_get_poscounter", chan_ident=1)
    client.send("mot_resume_endofmovemsges")
    client.send("mot_req_poscounter", chan_ident=1)
    names = []
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and "mot_get_poscounter" not in names:
        names += [message.msg for message in client.unpacker]
    assert "mot_get_poscounter" in names and "mot_move_completed" not in names


def test_home(session: tuple[Client, Any], model: str) -> None:
    client, axis = session
    if model == "Z825B":  # homing runs to 0 mm: 5 s at 2.3 mm/s from mid-travel; start close
        axis.move_to(0.4e-3, wait=True)
    client.send("mot_move_home", chan_ident=1)
    assert client.expect("mot_move_homed", timeout_s=10.0).msg == "mot_move_homed"
    assert client.query("mot_req_dcstatusupdate", "mot_get_dcstatusupdate", chan_ident=1).homed
    assert axis.get_position() == pytest.approx(0.0, abs=1e-9)
