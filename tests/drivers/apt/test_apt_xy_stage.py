"""The XY sample stage over APT: two KDC101 + Z8 axes, byte-exact, through the emulator, limits."""
from __future__ import annotations

from typing import Any

import pytest
from apt_fakes import ScriptedSerial, Step

from drivers.clock import RealClock
from drivers.errors import InstrumentError
from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.scaling import Z8_SCALING, kdc101_scaling
from drivers.thorlabs_apt.xy_stage import KDC101XYStage


H = bytes.fromhex
DEVICE_TO_HOST = {"dest": p.HOST, "source": p.USB_DEVICE}


def kdc_info(serial: int, stage_id: int) -> bytes:
    return p.HwGetInfo(serial, "KDC101", 16, (14, 0, 3, 0), "Brushed DC Servo Controller",
                       hw_version=1, stage_id=stage_id, **DEVICE_TO_HOST).encode()


#: 2.3 mm/s and 1.5 mm/s^2 in the KDC101's Z8 units
VELPARAMS = p.MotGetVelParams(1, 0, Z8_SCALING.accel_to_device(1.5e-3),
                              Z8_SCALING.velocity_to_device(2.3e-3), **DEVICE_TO_HOST).encode()


def connect_steps(serial: int, stage_id: int = 9) -> list[Step]:
    return [Step(H("05 00 00 00 50 01"), kdc_info(serial, stage_id)), Step(H("10 02 01 01 50 01")),
            Step(H("14 04 01 00 50 01"), VELPARAMS)]


def make_xy(x_steps: list[Step], y_steps: list[Step], **options: Any
            ) -> tuple[KDC101XYStage, dict[str, ScriptedSerial]]:
    ports = {"/dev/ttyX": ScriptedSerial(x_steps), "/dev/ttyY": ScriptedSerial(y_steps)}
    options.setdefault("timeout_s", 0.3)
    stage = KDC101XYStage("xy_stage", "/dev/ttyX,/dev/ttyY", RealClock(),
                          serial_factory=lambda address, timeout_s: ports[address], **options)
    return stage, ports


def test_z8_scaling_is_the_manuals_kdc101_formula() -> None:
    # APT manual: EncCnt per mm 34554.96; velocity = EncCnt x T x 65536, accel = EncCnt x T^2 x
    # 65536 with T = 2048 / 6e6 s: 772981.3692 per mm/s and 263.8443072 per mm/s^2
    assert Z8_SCALING.counts_per_unit == pytest.approx(34554.96e3)
    assert Z8_SCALING.velocity_per_unit * 1e-3 == pytest.approx(772981.3692, rel=1e-8)
    assert Z8_SCALING.accel_per_unit * 1e-3 == pytest.approx(263.8443072, rel=1e-8)
    assert Z8_SCALING.to_counts(1e-3) == 34555
    # the PRM1Z8 figures of instruments.md follow from the same formula
    prm = kdc101_scaling(1919.6418578623391, "deg")
    assert prm.velocity_per_unit == pytest.approx(42941.66, rel=1e-6)
    assert prm.accel_per_unit == pytest.approx(14.66, rel=1e-3)


def test_move_to_sends_both_absolute_moves_then_waits_for_both() -> None:
    # 1 mm = 34555 counts (FB 86 00 00), 2 mm = 69110 (F6 0D 01 00); positions read first
    x_done = p.MotMoveCompleted(1, 34555, 0, p.StatusBits.ENABLED, **DEVICE_TO_HOST).encode()
    y_done = p.MotMoveCompleted(1, 69110, 0, p.StatusBits.ENABLED, **DEVICE_TO_HOST).encode()
    pos0 = p.MotGetPosCounter(1, 0, **DEVICE_TO_HOST).encode()
    stage, ports = make_xy(
        connect_steps(27000010) + [Step(H("11 04 01 00 50 01"), pos0),
                                   Step(H("53 04 06 00 D0 01 01 00 FB 86 00 00"), x_done)],
        connect_steps(27000011) + [Step(H("11 04 01 00 50 01"), pos0),
                                   Step(H("53 04 06 00 D0 01 01 00 F6 0D 01 00"), y_done)])
    stage.connect()
    assert "27000010" in stage.identify() and "27000011" in stage.identify()
    stage.move_to(1e-3, 2e-3)
    for port in ports.values():
        assert not port.steps


def test_a_point_outside_the_limits_is_refused_before_any_byte() -> None:
    stage, ports = make_xy(connect_steps(27000010), connect_steps(27000011),
                           x_range_mm=[5, 20], y_range_mm=[5, 20])
    stage.connect()
    sent = {name: bytes(port.written) for name, port in ports.items()}
    with pytest.raises(ValueError, match=r"^xy_stage\.x_mm=21 mm is outside the stage limits; "
                                         r"allowed range \[5, 20\] mm$"):
        stage.move_to(21e-3, 10e-3)
    with pytest.raises(ValueError, match=r"xy_stage\.home: homing drives the stage to \(0, 0\) mm"):
        stage.home()
    assert {name: bytes(port.written) for name, port in ports.items()} == sent


def test_a_controller_driving_another_stage_is_refused_at_connect() -> None:
    stage, ports = make_xy(connect_steps(27000010, stage_id=6) + [Step(H("02 00 00 00 50 01"))],
                           connect_steps(27000011))
    with pytest.raises(InstrumentError, match="drives a PRM1-Z8, not a Z8 linear actuator"):
        stage.connect()
    assert ports["/dev/ttyX"].closed


@pytest.mark.parametrize(("options", "message"), [
    ({"x_range_mm": [0, 30]}, r"xy_stage\.x_range_mm\[1\]=30 mm is outside the allowed range \[0, 25\] mm"),
    ({"y_range_mm": [10, 5]}, r"xy_stage\.y_range_mm=\[10, 5\] mm is not allowed; low must be below high"),
    ({"min_step_um": 0.001}, r"xy_stage\.min_step_um=0\.001 um is outside the allowed range"),
    ({"actuator": "Z912"}, r"xy_stage\.actuator='Z912' is not allowed"),
])
def test_bad_options_are_one_line_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KDC101XYStage("xy_stage", "/dev/ttyX,/dev/ttyY", RealClock(), **options)


def test_one_address_for_two_controllers_is_refused() -> None:
    with pytest.raises(ValueError, match=r"xy_stage\.address='/dev/ttyX' is not allowed; "
                                         r"allowed: '<x controller port>,<y controller port>'"):
        KDC101XYStage("xy_stage", "/dev/ttyX", RealClock())
