"""SCPI building blocks for emulators: header matching with short/long forms, optional nodes and
numeric suffixes (case-insensitive), numeric parameters with MIN/MAX/DEFault, the error queue and
the IEEE 488.2 status registers (SCPI-99 volume 1 chapters 4, 6, 21; IEEE 488.2 section 11).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

ESR_OPERATION_COMPLETE = 1 << 0
ESR_QUERY_ERROR = 1 << 2
ESR_DEVICE_ERROR = 1 << 3
ESR_EXECUTION_ERROR = 1 << 4
ESR_COMMAND_ERROR = 1 << 5
ESR_POWER_ON = 1 << 7

STB_ERROR_QUEUE = 1 << 2        # SCPI: error/event queue not empty
STB_QUESTIONABLE = 1 << 3
STB_MESSAGE_AVAILABLE = 1 << 4
STB_EVENT_SUMMARY = 1 << 5
STB_SERVICE_REQUEST = 1 << 6
STB_OPERATION = 1 << 7

ERROR_QUEUE_LENGTH = 30


class ScpiError(Exception):
    """An SCPI error: queued for ``SYST:ERR?`` and flagged in the event status register."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


# ------------------------------------------------------------------ header matching
@dataclass(frozen=True)
class Node:
    short: str
    long: str
    optional: bool

    def matches(self, token: str) -> bool:
        # numeric suffixes select a channel; one-channel instruments accept any suffix
        stripped = token.rstrip("0123456789") or token
        return stripped in (self.short, self.long)


def parse_pattern(pattern: str) -> tuple[Node, ...]:
    """``"[SENSe]:CORRection:WAVelength"`` -> nodes (short form = the upper-case letters)."""
    nodes = []
    for part in pattern.replace("[:", ":[").split(":"):
        optional = part.startswith("[") and part.endswith("]")
        word = part.strip("[]")
        short = "".join(c for c in word if not c.islower())
        nodes.append(Node(short.upper(), word.upper(), optional))
    return tuple(nodes)


def header_matches(tokens: list[str], nodes: tuple[Node, ...]) -> bool:
    if not nodes:
        return not tokens
    node = nodes[0]
    if tokens and node.matches(tokens[0]) and header_matches(tokens[1:], nodes[1:]):
        return True
    return node.optional and header_matches(tokens, nodes[1:])


def header_tokens(header: str) -> list[str]:
    """``:sens:corr:wav?`` -> ``["SENS", "CORR", "WAV"]``."""
    return header.rstrip("?").upper().lstrip(":").split(":")


# ------------------------------------------------------------------ parameters
def number(argument: str, low: float, high: float, default: float | None = None) -> float:
    """A numeric parameter: a number or MIN/MAX/DEF (SCPI-99 7.2.1); out of range is -222."""
    word = argument.strip().upper()
    if word in ("MIN", "MINIMUM"):
        return low
    if word in ("MAX", "MAXIMUM"):
        return high
    if word in ("DEF", "DEFAULT"):
        if default is None:
            raise ScpiError(-224, "Illegal parameter value")
        return default
    if not word:
        raise ScpiError(-109, "Missing parameter")
    try:
        value = float(word)
    except ValueError:
        raise ScpiError(-104, "Data type error") from None
    if not low <= value <= high:
        raise ScpiError(-222, "Data out of range")
    return value


def boolean(argument: str) -> bool:
    word = argument.strip().upper()
    if word in ("1", "ON"):
        return True
    if word in ("0", "OFF"):
        return False
    if not word:
        raise ScpiError(-109, "Missing parameter")
    raise ScpiError(-224, "Illegal parameter value")


def limit_query(argument: str, value: float, low: float, high: float,
                default: float | None = None) -> float:
    """What ``XXX? [MIN|MAX|DEF]`` answers."""
    word = argument.strip().upper()
    if not word:
        return value
    if word in ("MIN", "MINIMUM"):
        return low
    if word in ("MAX", "MAXIMUM"):
        return high
    if word in ("DEF", "DEFAULT") and default is not None:
        return default
    raise ScpiError(-224, "Illegal parameter value")


# ------------------------------------------------------------------ status system
@dataclass
class StatusSystem:
    """Error queue, standard event status register (+ enable), service request enable and the
    SCPI operation/questionable registers (condition, event, enable, transition filters)."""

    errors: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=ERROR_QUEUE_LENGTH))
    esr: int = ESR_POWER_ON
    ese: int = 0
    sre: int = 0
    registers: dict[str, dict[str, int]] = field(default_factory=dict)

    def error(self, code: int, text: str) -> None:
        if len(self.errors) == ERROR_QUEUE_LENGTH - 1:
            self.errors.append((-350, "Queue overflow"))  # SCPI-99 21.8.8: last entry
        elif len(self.errors) < ERROR_QUEUE_LENGTH - 1:
            self.errors.append((code, text))
        if -199 <= code <= -100:
            self.esr |= ESR_COMMAND_ERROR
        elif -299 <= code <= -200:
            self.esr |= ESR_EXECUTION_ERROR
        elif -399 <= code <= -300 or code > 0:
            self.esr |= ESR_DEVICE_ERROR
        elif -499 <= code <= -400:
            self.esr |= ESR_QUERY_ERROR

    def next_error(self) -> str:
        if not self.errors:
            return '+0,"No error"'
        code, text = self.errors.popleft()
        return f'{code:+d},"{text}"'

    def register(self, name: str) -> dict[str, int]:
        return self.registers.setdefault(name, {"condition": 0, "event": 0, "enable": 0,
                                                "ptransition": 0x7FFF, "ntransition": 0})

    def set_condition(self, name: str, condition: int) -> None:
        reg = self.register(name)
        rising = condition & ~reg["condition"] & reg["ptransition"]
        falling = ~condition & reg["condition"] & reg["ntransition"]
        reg["event"] |= rising | falling
        reg["condition"] = condition

    def status_byte(self) -> int:
        status = 0
        if self.errors:
            status |= STB_ERROR_QUEUE
        if self.esr & self.ese:
            status |= STB_EVENT_SUMMARY
        for name, bit in (("QUEStionable", STB_QUESTIONABLE), ("OPERation", STB_OPERATION)):
            reg = self.register(name)
            if reg["event"] & reg["enable"]:
                status |= bit
        if status & self.sre & ~STB_SERVICE_REQUEST:
            status |= STB_SERVICE_REQUEST
        return status

    def clear(self) -> None:
        """*CLS: error queue, event status register and the SCPI event registers."""
        self.errors.clear()
        self.esr = 0
        for reg in self.registers.values():
            reg["event"] = 0

    def preset(self) -> None:
        """STATus:PRESet: enables to 0, transition filters to their defaults (SCPI-99 20.7)."""
        for reg in self.registers.values():
            reg.update(enable=0, ptransition=0x7FFF, ntransition=0)
