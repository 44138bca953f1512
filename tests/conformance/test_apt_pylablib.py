"""pyLabLib's Kinesis motor (PyPI ``pylablib``, ``pylablib.devices.Thorlabs.KinesisMotor``)
against the APT emulator of each stage model, on a real-time bench.

Connected through pyLabLib's own ``network`` backend (a TCP serial bridge): its serial backend
toggles RTS with an ioctl that a pseudo-terminal refuses (``Inappropriate ioctl for device``), so
the pty transport is skipped; the bytes are the same either way.

Operations: device info, stage autodetection from HW_GET_INFO (``scale="stage"``: PRM1-Z8 and
Z825 on a KDC101, K10CR1), position, move_to / move_by + wait_move, velocity / jog / homing /
general-move / limit-switch parameters (get and set), jog (built-in MOT_MOVE_JOG and continuous
MOT_MOVE_VELOCITY) + stop, home, status.

pyLabLib scales Z8 actuators with 34304 counts/mm (512 x 67:1, older manual issues and the Z8
manual); the current APT manual, Kinesis and avalab use 34554.96 (67.49:1), so its millimetres
are 0.73 % off ours. Positions are compared in device units (the client's value times its own
scale), which both sides agree on.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apt_support import apt_server, realtime_bench
from conformance_support import Link, require_client

from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, Z8_SCALING

#: avalab's scale of each model (device units per deg or per m)
SCALES = {"K10CR1": K10CR1_SCALING, "PRM1Z8": PRM1Z8_SCALING, "Z825B": Z8_SCALING}
#: what pyLabLib's autodetection should name for each emulated model, and its unit
STAGES = {"K10CR1": ("K10CR1", "deg"), "PRM1Z8": ("PRM1-Z8", "deg"), "Z825B": ("Z825", "m")}
#: a move each model makes well within pyLabLib's 3 s timeout (deg, deg, m)
STEP = {"K10CR1": 20.0, "PRM1Z8": 20.0, "Z825B": 0.5e-3}


@pytest.fixture(params=["K10CR1", "PRM1Z8", "Z825B"])
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def motor(model: str, make_link: Any, transport: str) -> Iterator[tuple[Any, Any]]:
    if transport == "pty":
        pytest.skip("pyLabLib's serial backend toggles RTS by ioctl, which a pty refuses")
    thorlabs = require_client("pylablib.devices.Thorlabs", "pylablib")
    server, axis = apt_server(realtime_bench(), model, serial_number=27000042)
    link: Link = make_link(server)
    with pytest.warns(UserWarning, match="could not cycle RTS"):
        device = thorlabs.KinesisMotor(("network", f"{link.host}:{link.port}"), scale="stage")
    yield device, axis
    device.close()


def test_device_info_and_stage_autodetection(motor: tuple[Any, Any], model: str) -> None:
    device, _ = motor
    info = device.get_device_info()
    assert info.serial_no == 27000042 and info.nchannels == 1
    assert info.model_no == ("K10CR1" if model == "K10CR1" else "KDC101")
    stage, unit = STAGES[model]
    assert device.get_stage() == stage
    assert device.get_scale_units() == unit


def in_our_units(device: Any, model: str, value: float) -> float:
    """A position the client reports, in avalab's units (through the device units)."""
    return value * device.get_scale()[0] / SCALES[model].counts_per_unit


def test_moves_and_position(motor: tuple[Any, Any], model: str) -> None:
    device, axis = motor
    step = STEP[model]
    resolution = 2 * SCALES[model].resolution
    start = device.get_position()
    assert in_our_units(device, model, start) == pytest.approx(axis.get_position(), abs=resolution)
    device.move_to(start + step)
    device.wait_move(timeout=10)
    assert device.get_position() == pytest.approx(start + step, rel=1e-4)
    assert axis.get_position() == pytest.approx(in_our_units(device, model, start + step), abs=resolution)
    device.move_by(-step / 2)
    device.wait_move(timeout=10)
    assert axis.get_position() == pytest.approx(in_our_units(device, model, start + step / 2),
                                                abs=resolution)


def test_parameters_get_and_set(motor: tuple[Any, Any], model: str) -> None:
    device, _ = motor
    step = STEP[model]
    device.setup_velocity(acceleration=5 * step, max_velocity=2 * step)
    velocity = device.get_velocity_parameters()
    assert velocity.max_velocity == pytest.approx(2 * step, rel=1e-3)
    assert velocity.acceleration == pytest.approx(5 * step, rel=1e-2)
    jog = device.setup_jog(mode="step", step_size=step / 4)
    assert jog.mode == "step" and jog.step_size == pytest.approx(step / 4, rel=1e-3)
    home = device.setup_homing(offset_distance=step / 10)
    assert home.offset_distance == pytest.approx(step / 10, rel=1e-3)
    gen = device.setup_gen_move(backlash_distance=step / 20)
    assert gen.backlash_distance == pytest.approx(step / 20, rel=1e-2)
    limits = device.setup_limit_switch(sw_position_cw=step, sw_position_ccw=-step)
    assert limits.sw_position_cw == pytest.approx(step, rel=1e-3)
    assert limits.sw_position_ccw == pytest.approx(-step, rel=1e-3)


def test_jog_continuous_stop_and_status(motor: tuple[Any, Any], model: str) -> None:
    device, axis = motor
    step = STEP[model]
    device.setup_jog(mode="step", step_size=step / 4)
    start = axis.get_position()
    # pyLabLib sends MOT_MOVE_JOG direction 2 (the manual's reverse) for "+" on these models
    # (KinesisDevice._forward_positive is False): the manual's directions are what moves here
    device.jog("-", kind="builtin")
    device.wait_move(timeout=10)
    jogged = in_our_units(device, model, step / 4)
    assert axis.get_position() == pytest.approx(start + jogged, abs=2 * SCALES[model].resolution)
    device.jog("+", kind="continuous")
    assert device.is_moving()
    assert {"moving_fw", "moving_bk"} & set(device.get_status())
    device.stop(immediate=True)
    assert not device.is_moving()
    assert axis.get_position() < start + jogged
    assert "enabled" in device.get_status() and "connected" in device.get_status()


def test_home(motor: tuple[Any, Any], model: str) -> None:
    device, axis = motor
    if model == "Z825B":  # homing runs to 0 mm at 2.3 mm/s; start close to it
        axis.move_to(0.3e-3, wait=True)
    device.home(force=True, timeout=10)
    assert device.is_homed()
    assert device.get_position() == pytest.approx(0.0, abs=1e-6)
