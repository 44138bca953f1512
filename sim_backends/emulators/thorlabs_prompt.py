"""The echo-and-prompt ASCII framing shared by Thorlabs' serial controllers (SC10, MC2000B).

Both units use the same terminal-style interface (SC10 manual 8654-D02, "Keywords (Commands and
Queries)" table, p. 15; for the MC2000B, whose manual we could not read, Thorlabs' own MC2000B
serial example and the clients below show the same framing): the host ends a command with CR; the
unit echoes the command, then CR, then the lines it answers (a query's value, an error string,
the command list for ``?``), each ended by CR, and finally the ``"> "`` prompt::

    id?\\r        ->  id?\\rTHORLABS SC10 VERSION 1.07\\r>\\x20
    rep=10\\r     ->  rep=10\\r>\\x20
    \\r           ->  \\r>\\x20          (an empty line is answered with a fresh prompt)

Every reply, set command or query, has this one shape, so a client can read up to ``"\\r> "``
after each command and stay in step (InstrumentKit's SC10 transcripts, the ``thorlabs_mc2000b``
package and Thorlabs' own MC2000B serial example all do). A bare CR is answered with a prompt
because clients send one to resynchronise (``thorlabs_mc2000b`` before every command). LF is
ignored (some terminals send CRLF). "All commands and queries are in lower case letters"
(SC10 manual, p. 15): commands are matched case-sensitively, so ``ID?`` is an unknown
command, answered with the error string.
"""
from __future__ import annotations

from abc import abstractmethod

from sim_backends.emulators.server import DeviceProtocol

PROMPT = "> "
#: error strings of both controllers (the manuals say "the unit will return an error string";
#: InstrumentKit's ``check_cmd`` and the thorlabs_mc2000b client look for these keywords)
NOT_DEFINED = "Command error CMD_NOT_DEFINED"
ARG_INVALID = "Command error CMD_ARG_INVALID"


class CommandError(Exception):
    """The controller's error string for the command being executed."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ThorlabsPromptProtocol(DeviceProtocol):
    """Sans-IO interpreter of one Thorlabs echo/prompt controller; subclasses execute commands."""

    encoding = "ascii"

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        self._buffer += data.replace(b"\n", b"")
        replies: list[bytes] = []
        while (end := self._buffer.find(b"\r")) >= 0:
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            command = raw.decode(self.encoding, errors="replace").strip()
            replies.append(self.frame(command))
        return b"".join(replies)

    def frame(self, command: str) -> bytes:
        """Echo, answer lines and prompt for one command line."""
        try:
            lines = self.execute(command) if command else []
        except CommandError as error:
            lines = [error.text]
        body = "".join(f"{line}\r" for line in lines)
        return f"{command}\r{body}{PROMPT}".encode(self.encoding)

    @abstractmethod
    def execute(self, command: str) -> list[str]:
        """Run ``command``; return the lines to answer (none for a set command).

        Raise :class:`CommandError` with the controller's error string to refuse it.
        """


def parse_integer(text: str, low: int, high: int) -> int:
    """The integer argument of ``key=n`` within [low, high], or CMD_ARG_INVALID."""
    try:
        value = int(text.strip())
    except ValueError:
        raise CommandError(ARG_INVALID) from None
    if not low <= value <= high:
        raise CommandError(ARG_INVALID)
    return value
