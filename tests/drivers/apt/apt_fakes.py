"""Test doubles for the APT driver tests: a finite-speed rotation stage and a scripted serial port."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.interfaces import RotationStage
from drivers.thorlabs_apt import protocol as p
from drivers.validation import check_range
from sim_backends.emulators.apt import AptEmulator
from sim_backends.emulators.server import EmulatorServer

#: the reply timeout for links that will answer: generous, as CI is a loaded 2-core machine;
#: only a test whose point is a timeout uses a short one, and only for that exchange
REPLY_TIMEOUT_S = 10.0

#: the ``serve_apt`` fixture: (stage, model, link, emulator_cls) -> (server, address, emulators
#: created so far, one per connection)
ServeApt = Callable[..., tuple[EmulatorServer, str, list[AptEmulator]]]


def replies(emulator: AptEmulator, *messages: p.Message) -> list[p.Message]:
    """Feed ``messages`` to a sans-IO emulator; the messages it answers with, decoded."""
    data = emulator.feed(b"".join(m.encode() for m in messages))
    return [p.decode(f) for f in p.FrameParser().feed(data)]


def unsolicited_until(emulator: AptEmulator, timeout_s: float = 2.0) -> list[p.Message]:
    """The first unsolicited frames the emulator sends within ``timeout_s`` ([] if none)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        data = emulator.unsolicited()
        if data:
            return [p.decode(f) for f in p.FrameParser().feed(data)]
        time.sleep(0.005)
    return []


class ManualTime:
    """A clock that moves only when the test says so: a move observed "during" stays under way."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


class FakeRotationStage(RotationStage):
    """Moves at ``speed_deg_s`` on wall time (or on ``now``, e.g. a :class:`ManualTime`); stands
    in for the bench's simulated stage."""

    model = "fake rotation stage"

    def __init__(self, speed_deg_s: float = 720.0, limit_deg: float = 360.0,
                 position_deg: float = 0.0, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__("fake_stage", "fake://stage")
        self._now = now
        self.speed_deg_s = speed_deg_s
        self.limit_deg = limit_deg
        self._lock = threading.Lock()
        self._start_deg = position_deg
        self._target_deg = position_deg
        self._start_t = now()
        self.moves: list[float] = []
        self.stops = 0

    @property
    def travel_range(self) -> tuple[float, float]:
        return (-self.limit_deg, self.limit_deg)

    def connect(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def is_connected(self) -> bool:
        return True

    def identify(self) -> str:
        return self.model

    def _position_locked(self, now: float) -> float:
        span = self._target_deg - self._start_deg
        travelled = self.speed_deg_s * (now - self._start_t)
        if travelled >= abs(span):
            return self._target_deg
        return self._start_deg + travelled * (1 if span > 0 else -1)

    def move_to(self, angle_deg: float, wait: bool = True) -> None:
        angle = check_range("fake_stage.angle_deg", angle_deg, -self.limit_deg, self.limit_deg, "deg")
        with self._lock:
            now = self._now()
            self._start_deg = self._position_locked(now)
            self._start_t = now
            self._target_deg = angle
            self.moves.append(angle)
        while wait and self.is_moving():
            time.sleep(0.005)

    def move_by(self, delta_deg: float, wait: bool = True) -> None:
        self.move_to(self.get_position() + delta_deg, wait)

    def home(self, wait: bool = True) -> None:
        self.move_to(0.0, wait)

    def get_position(self) -> float:
        with self._lock:
            return self._position_locked(self._now())

    def is_moving(self) -> bool:
        with self._lock:
            return self._position_locked(self._now()) != self._target_deg

    def set_speed(self, speed_deg_s: float) -> None:
        """Change the speed mid-move, continuing from where the stage is now (tests use it to
        finish a slow move once they have seen what they came for, not after a fixed time)."""
        with self._lock:
            now = self._now()
            self._start_deg = self._position_locked(now)
            self._start_t = now
            self.speed_deg_s = speed_deg_s

    def stop(self) -> None:
        with self._lock:
            now = self._now()
            self._start_deg = self._target_deg = self._position_locked(now)
            self._start_t = now
            self.stops += 1


@dataclass
class Step:
    """One exchange: the exact bytes the driver must write, and the bytes the device answers."""

    expect: bytes
    reply: bytes = b""


@dataclass
class ScriptedSerial:
    """A serial port that asserts every byte written against a script (cf. pymeasure's
    ``expected_protocol``) and returns scripted replies; ``read`` never blocks long."""

    steps: list[Step]
    ops: list[str] = field(default_factory=list)
    written: bytearray = field(default_factory=bytearray)
    _pending_write: bytearray = field(default_factory=bytearray)
    _rx: bytearray = field(default_factory=bytearray)
    _rts: bool = False
    closed: bool = False

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, level: bool) -> None:
        self._rts = level
        self.ops.append(f"rts={level}")

    def inject(self, data: bytes) -> None:
        """Bytes the device sends on its own (before whatever is scripted next)."""
        self._rx += data

    def write(self, data: bytes) -> int:
        self.written += data
        self._pending_write += data
        while self.steps and len(self._pending_write) >= len(self.steps[0].expect):
            step = self.steps.pop(0)
            chunk = bytes(self._pending_write[:len(step.expect)])
            del self._pending_write[:len(step.expect)]
            assert chunk == step.expect, (f"driver wrote {chunk.hex(' ')}, "
                                          f"script expects {step.expect.hex(' ')}")
            self._rx += step.reply
        assert self.steps or not self._pending_write, (
            f"driver wrote unexpected bytes {bytes(self._pending_write).hex(' ')}")
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if not self._rx:
            time.sleep(0.001)  # emulate a short serial read timeout without spinning hard
            return b""
        chunk = bytes(self._rx[:size])
        del self._rx[:size]
        return chunk

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def reset_input_buffer(self) -> None:
        self.ops.append("reset_input")
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        self.ops.append("reset_output")

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        assert not self.steps, f"script not finished; next expected {self.steps[0].expect.hex(' ')}"
        assert not self._pending_write
