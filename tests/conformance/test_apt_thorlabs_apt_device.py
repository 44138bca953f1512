"""``thorlabs-apt-device`` (PyPI, ``thorlabs_apt_device.devices.kdc101.KDC101``): a threaded
client that polls MOT_REQ_DCSTATUSUPDATE every 10 ms and requests the velocity, jog, home and
general-move parameters at start-up; against the KDC101 emulator with a Z825B (and a PRM1Z8) on a
real-time bench.

It opens its port with ``serial.Serial`` (no pyserial URL handlers), so it runs on the pty only.
It inverts the manual's forward/reverse by default for the KDC101 (``invert_direction_logic``);
moves here are in device units, which need no direction.

Operations: start-up parameter requests, status polling (position, homed, moving), absolute and
relative moves, the 6-byte short MOT_MOVE_ABSOLUTE / MOT_MOVE_RELATIVE after ``now=False``
(stored parameters), velocity and jog parameters, velocity move + stop, home, identify, close.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from apt_support import apt_server, realtime_bench
from conformance_support import Link, require_client

from drivers.thorlabs_apt.scaling import PRM1Z8_SCALING, Z8_SCALING

SCALES = {"PRM1Z8": PRM1Z8_SCALING, "Z825B": Z8_SCALING}
STEP = {"PRM1Z8": 20.0, "Z825B": 0.5e-3}


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture(params=["Z825B", "PRM1Z8"])
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def kdc(model: str, make_link: Any, transport: str) -> Iterator[tuple[Any, Any]]:
    if transport == "tcp":
        pytest.skip("thorlabs-apt-device opens serial.Serial(port): no socket:// bridge")
    devices = require_client("thorlabs_apt_device.devices.kdc101", "thorlabs-apt-device")
    server, axis = apt_server(realtime_bench(), model, serial_number=27000042)
    link: Link = make_link(server)
    stage = devices.KDC101(serial_port=link.device, home=False)
    wait_until(lambda: stage.velparams["max_velocity"] != 0 and stage.status["msg"] != "")
    yield stage, axis
    stage.close()
    stage._thread.join(timeout=5)  # the client stops its event loop and closes the port there


def counts(model: str, position: float) -> int:
    return SCALES[model].to_counts(position)


def test_start_up_parameters_and_status(kdc: tuple[Any, Any], model: str) -> None:
    stage, axis = kdc
    scale = SCALES[model]
    assert stage.velparams["max_velocity"] > 0 and stage.velparams["acceleration"] > 0
    assert stage.jogparams["step_size"] > 0 and stage.homeparams["home_velocity"] > 0
    assert "backlash_distance" in stage.genmoveparams
    wait_until(lambda: abs(stage.status["position"] - scale.to_counts(axis.get_position())) <= 1)
    assert stage.status["channel_enabled"] and stage.status["motor_connected"]


def test_absolute_relative_and_short_form_moves(kdc: tuple[Any, Any], model: str) -> None:
    stage, axis = kdc
    start, step = axis.get_position(), STEP[model]
    stage.move_absolute(counts(model, start + step))
    wait_until(lambda: abs(stage.status["position"] - counts(model, start + step)) <= 1)
    stage.move_relative(-counts(model, step / 2))
    wait_until(lambda: abs(stage.status["position"] - counts(model, start + step / 2)) <= 2)
    stage.move_absolute(counts(model, start), now=False)    # MOT_SET_MOVEABSPARAMS
    stage.move_absolute()                                   # 6-byte MOT_MOVE_ABSOLUTE
    wait_until(lambda: abs(stage.status["position"] - counts(model, start)) <= 1)
    stage.move_relative(counts(model, step / 4), now=False)  # MOT_SET_MOVERELPARAMS
    stage.move_relative()                                    # 6-byte MOT_MOVE_RELATIVE
    wait_until(lambda: abs(stage.status["position"] - counts(model, start + step / 4)) <= 2)
    wait_until(lambda: not axis.is_moving())
    assert axis.get_position() == pytest.approx(start + step / 4, abs=3 * SCALES[model].resolution)


def test_velocity_jog_parameters_velocity_move_and_stop(kdc: tuple[Any, Any], model: str) -> None:
    stage, axis = kdc
    scale, step = SCALES[model], STEP[model]
    stage.set_velocity_params(acceleration=scale.accel_to_device(5 * step),
                              max_velocity=scale.velocity_to_device(step))
    wait_until(lambda: stage.velparams["max_velocity"] == scale.velocity_to_device(step))
    stage.set_jog_params(size=counts(model, step / 5), acceleration=scale.accel_to_device(5 * step),
                         max_velocity=scale.velocity_to_device(step))
    wait_until(lambda: stage.jogparams["step_size"] == counts(model, step / 5))
    start = axis.get_position()
    stage.move_velocity("forward")
    wait_until(lambda: stage.status["moving_forward"] or stage.status["moving_reverse"])
    time.sleep(0.2)
    stage.stop(immediate=True)
    wait_until(lambda: not axis.is_moving())
    assert axis.get_position() != pytest.approx(start, abs=10 * scale.resolution)
    wait_until(lambda: not (stage.status["moving_forward"] or stage.status["moving_reverse"]))


def test_home_and_identify(kdc: tuple[Any, Any], model: str) -> None:
    stage, axis = kdc
    if model == "Z825B":  # homing runs to 0 mm at 2.3 mm/s; start close to it
        axis.move_to(0.3e-3, wait=True)
    stage.home()
    wait_until(lambda: stage.status["homed"] and not stage.status["homing"])
    assert axis.get_position() == pytest.approx(0.0, abs=1e-9)
    stage.identify()
