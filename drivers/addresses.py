"""Instrument addresses checked when a driver is built (so when the rig file loads), not when
the link is first opened: a malformed address is a one-line error naming the field, the value and
what is allowed, before anything is connected.

- VISA resource strings (the pymeasure/pyvisa drivers) are parsed by pyvisa's own parser
  (``pyvisa.rname``), plus a port-number check it leaves out;
- pyserial ports (the APT stages) are a device path or a ``socket://host:port`` /
  ``rfc2217://host:port`` URL (the URL handlers pyserial resolves itself), e.g. an emulator.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from pyvisa import rname

VISA_ALLOWED = ("allowed: a VISA resource string such as 'ASRL/dev/ttyUSB0::INSTR', 'ASRL3::INSTR' or "
                "'TCPIP::192.168.1.20::7777::SOCKET'")
SERIAL_ALLOWED = ("allowed: a serial port ('/dev/ttyUSB0', 'COM3') or 'socket://host:port' / "
                  "'rfc2217://host:port'")
#: pyserial URL schemes that reach an instrument (loop:// and friends are test helpers)
SERIAL_URL_SCHEMES = ("socket", "rfc2217")


def _port_problem(port: object) -> str | None:
    try:
        number = int(str(port))
    except ValueError:
        return f"port {port!r} is not a number"
    if not 1 <= number <= 65535:
        return f"port {number} is outside [1, 65535]"
    return None


def check_visa_address(field: str, address: str) -> str:
    """``address`` if it is a VISA resource string pyvisa can open, else ValueError (one line)."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"{field}={address!r} is empty; {VISA_ALLOWED}")
    try:
        parsed = rname.parse_resource_name(address)
    except rname.InvalidResourceName as exc:
        detail = str(exc).splitlines()[0]
        raise ValueError(f"{field}={address!r} is not a VISA resource string ({detail}); "
                         f"{VISA_ALLOWED}") from None
    if isinstance(parsed, rname.TCPIPSocket):
        problem = _port_problem(parsed.port)
        if problem is not None:
            raise ValueError(f"{field}={address!r}: {problem}; {VISA_ALLOWED}")
    return address


def check_serial_address(field: str, address: str) -> str:
    """``address`` if pyserial can take it as a port or URL, else ValueError (one line)."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"{field}={address!r} is empty; {SERIAL_ALLOWED}")
    if "://" not in address:
        if any(ch.isspace() for ch in address):
            raise ValueError(f"{field}={address!r} contains white space; {SERIAL_ALLOWED}")
        return address
    parts = urlsplit(address)
    if parts.scheme not in SERIAL_URL_SCHEMES:
        raise ValueError(f"{field}={address!r} has scheme {parts.scheme!r}; {SERIAL_ALLOWED}")
    try:
        port = parts.port
    except ValueError:
        port_text = parts.netloc.rpartition(":")[2]
        raise ValueError(f"{field}={address!r}: port {port_text!r} is not a number in [1, 65535]; "
                         f"{SERIAL_ALLOWED}") from None
    if not parts.hostname or port is None:
        raise ValueError(f"{field}={address!r} needs a host and a port; {SERIAL_ALLOWED}")
    problem = _port_problem(port)
    if problem is not None:
        raise ValueError(f"{field}={address!r}: {problem}; {SERIAL_ALLOWED}")
    return address
