"""Fault injection through the emulator server: late replies, garbage, dropped and vanished
links, motion that never ends, a stop from another thread."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from apt_fakes import REPLY_TIMEOUT_S, FakeRotationStage, ServeApt

from drivers.clock import RealClock
from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.stage import K10CR1Stage
from sim_backends.emulators.apt import AptEmulator


GARBAGE = b"\xff\xfe#@!\x00\x13"


@pytest.mark.parametrize("link", ["pty", "tcp"])
def test_late_reply_times_out_naming_instrument_port_and_command(
        serve_apt: ServeApt, fake_stage: FakeRotationStage, link: str) -> None:
    server, address, _ = serve_apt(fake_stage, "K10CR1", link)
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=0.15)
    with stage:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as info:
            stage.get_position()
        assert (info.value.instrument, info.value.address, info.value.command) == \
            ("hwp", address, "MOT_REQ_POSCOUNTER")
        assert f"hwp at {address}: command 'MOT_REQ_POSCOUNTER': no MotGetPosCounter within 0.15 s" \
            == str(info.value)
        server.faults.clear()
        # the reply the driver gave up on was still held, so the timeout did not wait for it
        server.release_held_replies()
        stage.transport.timeout_s = REPLY_TIMEOUT_S  # the recovery is not a timing test
        fake_stage.move_to(30.0)
        # APT has no transaction ids: the next request of the same type takes the late reply,
        # one request old (the transport's documented policy); the link stays in step after it
        assert stage.get_position() == 0.0
        assert stage.get_position() == pytest.approx(30.0, abs=1e-5)
        assert stage.get_status() & p.StatusBits.ENABLED


@pytest.mark.parametrize("link", ["pty", "tcp"])
def test_garbled_reply_fails_clearly_then_the_link_recovers(
        serve_apt: ServeApt, fake_stage: FakeRotationStage, link: str) -> None:
    server, address, _ = serve_apt(fake_stage, "K10CR1", link)
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=0.15)
    with stage:
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentTimeout, match=r"MOT_REQ_STATUSBITS.*garbage bytes"):
            stage.is_moving()
        stage.transport.timeout_s = REPLY_TIMEOUT_S  # the recovery is not a timing test
        stage.move_to(20.0)
        assert stage.get_position() == pytest.approx(20.0, abs=1e-5)


class GarbagePrefixEmulator(AptEmulator):
    """Line noise in front of every reply: the driver must resynchronise on the real frame."""

    def feed(self, data: bytes) -> bytes:
        reply = super().feed(data)
        return GARBAGE + reply if reply else reply


@pytest.mark.parametrize("link", ["pty", "tcp"])
def test_resynchronises_after_noise_before_replies(
        serve_apt: ServeApt, fake_stage: FakeRotationStage, link: str) -> None:
    _server, address, _ = serve_apt(fake_stage, "K10CR1", link, GarbagePrefixEmulator)
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        stage.move_to(-33.0)
        assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
        assert stage.get_position() == pytest.approx(-33.0, abs=1e-5)
        assert stage.transport._garbage_seen >= 2 * len(GARBAGE)


def test_dropped_tcp_connection_reconnects_once_and_retries(
        serve_apt: ServeApt, fake_stage: FakeRotationStage) -> None:
    server, address, emulators = serve_apt(fake_stage, "K10CR1", "tcp")
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        stage.move_to(40.0)
        server.faults.drop_connection = True
        assert stage.get_position() == pytest.approx(40.0, abs=1e-5)
        assert stage.transport.reconnects == 1
        assert len(emulators) == 2  # a second connection was opened
        stage.move_by(5.0)
        assert stage.get_position() == pytest.approx(45.0, abs=1e-5)


@pytest.mark.parametrize("link", ["pty", "tcp"])
def test_vanished_emulator_gives_a_clear_connection_error(
        serve_apt: ServeApt, fake_stage: FakeRotationStage, link: str) -> None:
    server, address, _ = serve_apt(fake_stage, "K10CR1", link)
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=0.2)
    stage.connect()
    server.close()
    for _attempt in range(2):  # every later command tries its one reconnect and fails the same way
        with pytest.raises(InstrumentConnectionError) as info:
            stage.get_position()
        assert info.value.command == "MOT_REQ_POSCOUNTER"
        assert f"hwp at {address}" in str(info.value)
        assert "reconnect failed" in str(info.value)
    # a stage that cannot be stopped is an error naming it, never a silent log line
    with pytest.raises(InstrumentConnectionError, match=f"hwp at {address}.*MOT_MOVE_STOP"):
        stage.safe_state()
    stage.close()


def test_connect_to_nothing_fails_clearly() -> None:
    stage = K10CR1Stage("hwp", "/dev/does-not-exist-apt", RealClock(), timeout_s=0.2)
    with pytest.raises(InstrumentConnectionError, match=r"hwp at /dev/does-not-exist-apt: "
                                                        r"command 'open': cannot open port"):
        stage.connect()
    assert not stage.is_connected


def test_motion_that_never_completes_times_out(serve_apt: ServeApt) -> None:
    crawling = FakeRotationStage(speed_deg_s=1.0, position_deg=90.0)
    _server, address, _ = serve_apt(crawling, "K10CR1", "pty")
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S, home_timeout_s=0.3)
    with stage:
        with pytest.raises(InstrumentTimeout, match=r"'MOT_MOVE_HOME': no MOT_MOVE_HOMED within 0.3 s"):
            stage.home()
        assert stage.is_moving()


def test_stop_from_another_thread_ends_the_wait_with_an_error(serve_apt: ServeApt) -> None:
    slow = FakeRotationStage(speed_deg_s=5.0)
    _server, address, _ = serve_apt(slow, "K10CR1", "tcp")
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        def stop_once_under_way() -> None:  # the operator presses STOP mid-move
            wait_until(lambda: slow.get_position() >= 1.0)
            stage.stop()

        threading.Thread(target=stop_once_under_way, daemon=True).start()
        with pytest.raises(InstrumentError, match=r"MOT_MOVE_ABSOLUTE.*motion stopped at [0-9.]+ deg"):
            stage.move_to(180.0)
        assert isinstance(stage.last_motion_event, p.MotMoveStopped)
        assert not stage.is_moving()
        assert 1.0 <= stage.get_position() < 180.0


def test_link_dropped_mid_move_completion_is_recovered_by_status_poll(serve_apt: ServeApt) -> None:
    # the MOVE_COMPLETED belongs to the dropped connection; the new one never sends it
    slow = FakeRotationStage(speed_deg_s=5.0)
    server, address, emulators = serve_apt(slow, "K10CR1", "tcp")
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        def gui_poll_that_hits_the_drop() -> None:
            wait_until(lambda: slow.get_position() >= 1.0)  # mid-move
            server.faults.drop_connection = True
            stage.get_position()
            slow.set_speed(500.0)  # the move ends after the reconnect, on the new connection

        poller = threading.Thread(target=gui_poll_that_hits_the_drop, daemon=True)
        poller.start()
        stage.move_to(120.0)
        poller.join(REPLY_TIMEOUT_S)
        assert not slow.is_moving()  # the wait lasted until the stage had arrived
        assert stage.last_motion_event is None  # ended by the status-bit fallback poll
        assert stage.transport.reconnects == 1 and len(emulators) == 2
        assert stage.get_position() == pytest.approx(120.0, abs=1e-5)


def wait_until(condition: Callable[[], bool], timeout_s: float = REPLY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
