"""The emulated bench: every wire-protocol instrument of a simulated rig served by its emulator.

Each emulator wraps the rig's own simulated device for that role, so the instruments behind the
emulators and the in-process devices (APD counter, TCSPC: they have no wire protocol) share one
bench and one sample. Two uses:
- ``avalab emulate``: serve them on pseudo-terminals and 127.0.0.1 ports and print a rig file
  whose addresses point at them, for drivers running in another program;
- ``attach_emulated_drivers(rig, roles)``: in this process, replace those roles' simulated
  devices by the REAL drivers talking to the emulators over a real pty or socket, so a whole
  experiment runs through drivers + wire + emulators + bench + physics.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from drivers.interfaces import Instrument
from drivers.registry import create_driver
from sim_backends.emulators.server import DeviceProtocol, EmulatorServer

log = logging.getLogger(__name__)

#: reply timeout of a real driver talking to an emulator (role options may set another): the emulator is
#: a thread of this process, sharing its CPU and GIL with the simulated bench (a physics step or a
#: numba compilation can hold the GIL for seconds on a loaded machine), not a real-time
#: instrument; a driver's hardware default (1 s for an APT controller) would time out on load
EMULATED_REPLY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EmulatedRole:
    """How one role is emulated: the emulator class, the real driver, how it addresses it."""

    driver: str                     # registry name a rig file uses
    emulator: str                   # "module:Class", constructed as Class(device, **emulator_options)
    addressing: str                 # "visa" (pyvisa resource) or "serial" (pyserial port/URL)
    emulator_options: dict[str, Any] = field(default_factory=dict)
    driver_options: dict[str, Any] = field(default_factory=dict)
    #: one controller per axis (the XY stage): each wraps ``device.axes[axis]`` on its own link,
    #: and the role's address lists them, comma-separated, in this order
    axes: tuple[str, ...] = ()


_APT = "sim_backends.emulators.apt:AptEmulator"
_SC10 = "sim_backends.emulators.sc10:SC10Emulator"
_LAKESHORE = "sim_backends.emulators.lakeshore:LakeShoreEmulator"

#: every role that has a wire protocol; "counter" (NI-DAQ) and "tagger" (HHLib) stay in-process
#: (the tagger's real driver can run on a stand-in library: IN_PROCESS_ROLES)
EMULATED_ROLES: dict[str, EmulatedRole] = {
    "pump": EmulatedRole("opus", "sim_backends.emulators.opus:OpusEmulator", "visa"),
    "hwp": EmulatedRole("k10cr1", _APT, "serial", {"model": "K10CR1", "serial_number": 55000001}),
    "nd_wheel": EmulatedRole("kdc101_prm1z8", _APT, "serial", {"model": "PRM1Z8", "serial_number": 27000002}),
    "control_attenuator": EmulatedRole("k10cr1", _APT, "serial", {"model": "K10CR1", "serial_number": 55000003}),
    "power_meter": EmulatedRole("pm100", "sim_backends.emulators.pm100:PM100Emulator", "visa"),
    "chopper": EmulatedRole("mc2000b", "sim_backends.emulators.mc2000b:MC2000BEmulator", "visa"),
    "cryostat": EmulatedRole("lakeshore335", _LAKESHORE, "visa", {"model": 335}),
    "control_laser": EmulatedRole("chameleon", "sim_backends.emulators.chameleon:ChameleonEmulator", "visa"),
    "pump_shutter": EmulatedRole("sc10", _SC10, "visa"),
    "control_shutter": EmulatedRole("sc10", _SC10, "visa"),
    "emission_shutter": EmulatedRole("sc10", _SC10, "visa"),
    "xy_stage": EmulatedRole("kdc101_z8_xy", _APT, "serial", {"model": "Z825B"}, axes=("x", "y")),
}

#: serial numbers of the emulated XY stage's controllers (KDC101s start with 27)
_AXIS_SERIALS = {"x": 27000010, "y": 27000011}


#: roles without a wire protocol whose real driver still runs: it loads a stand-in library in this
#: process, fed by the rig's bench (``emulator`` names the function that attaches it)
IN_PROCESS_ROLES: dict[str, EmulatedRole] = {
    "tagger": EmulatedRole("hydraharp", "sim_backends.emulators.hhlib_sim.rig_stand_in:attach_hydraharp",
                           "library"),
}


#: other drivers a role can be emulated with (``EMULATED_ROLES`` holds each role's default)
ALTERNATIVE_EMULATIONS: dict[str, tuple[EmulatedRole, ...]] = {
    "cryostat": (EmulatedRole("lakeshore336", _LAKESHORE, "visa", {"model": 336}),),
}


def emulation_for(role: str, driver: str | None = None) -> EmulatedRole | None:
    """How ``role`` is emulated for ``driver`` (None: the role's default); None if it cannot be."""
    default = EMULATED_ROLES.get(role) or IN_PROCESS_ROLES.get(role)
    if default is None or driver is None or driver == default.driver:
        return default
    return next((e for e in ALTERNATIVE_EMULATIONS.get(role, ()) if e.driver == driver), None)


def emulated_drivers(role: str) -> list[str]:
    """Every driver name ``role`` can be emulated with (the default first)."""
    default = EMULATED_ROLES.get(role) or IN_PROCESS_ROLES.get(role)
    return ([default.driver] if default else []) + [e.driver for e in ALTERNATIVE_EMULATIONS.get(role, ())]


def _load(path: str) -> Callable[..., DeviceProtocol]:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


@dataclass
class ServedRole:
    role: str
    spec: EmulatedRole
    servers: list[EmulatorServer]
    address: str


class EmulatedBench:
    """Serves the emulators of ``rig``'s simulated devices (see the module docstring)."""

    def __init__(self, rig: Any, roles: Iterable[str] | None = None, transport: str = "tcp",
                 drivers: dict[str, str] | None = None) -> None:
        if transport not in ("tcp", "pty"):
            raise ValueError(f"transport={transport!r} is not allowed; allowed values: 'tcp', 'pty'")
        self.rig = rig
        self.transport = transport
        wanted = list(roles) if roles is not None else list(EMULATED_ROLES)
        unknown = [r for r in wanted if r not in EMULATED_ROLES]
        if unknown:
            raise ValueError(f"roles={unknown} cannot be emulated; allowed values: {', '.join(EMULATED_ROLES)}")
        self.specs: dict[str, EmulatedRole] = {}
        for role in wanted:
            driver = (drivers or {}).get(role)
            spec = emulation_for(role, driver)
            if spec is None:
                raise ValueError(f"{role}={driver!r} cannot be emulated; allowed values: "
                                 f"{', '.join(emulated_drivers(role))}")
            self.specs[role] = spec
        unknown_drivers = set(drivers or {}) - set(wanted)
        if unknown_drivers:
            raise ValueError(f"drivers for {sorted(unknown_drivers)} given but those roles are not "
                             f"served; allowed roles: {', '.join(wanted)}")
        self.roles = [r for r in wanted if rig.instruments.get(r) is not None]
        self.served: dict[str, ServedRole] = {}
        #: in-process stand-ins (IN_PROCESS_ROLES) attached with this bench, closed with it
        self.stand_ins: list[Any] = []

    def start(self) -> dict[str, str]:
        """Start one server per role; returns role -> address in the form a rig file takes."""
        for role in self.roles:
            spec = self.specs[role]
            device: Instrument = self.rig.instruments[role]
            device.connect()  # the emulator's backing device must be live before hosts talk to it
            emulator_class = _load(spec.emulator)
            if spec.axes:
                backings = [(f"{role}.{axis}", getattr(device, "axes")[axis],
                             {**spec.emulator_options, "serial_number": _AXIS_SERIALS[axis]})
                            for axis in spec.axes]
            else:
                backings = [(role, device, spec.emulator_options)]
            servers, addresses = [], []
            for name, backing, options in backings:
                server = EmulatorServer(lambda cls=emulator_class, dev=backing, opts=options:
                                        cls(dev, **opts), name=name)
                servers.append(server)
                addresses.append(self._serve(server, spec))
            self.served[role] = ServedRole(role, spec, servers, ",".join(addresses))
        return {role: s.address for role, s in self.served.items()}

    def _serve(self, server: EmulatorServer, spec: EmulatedRole) -> str:
        if self.transport == "pty":
            path = server.serve_pty()
            return server.visa_pty_address if spec.addressing == "visa" else path
        server.serve_tcp()
        return server.visa_tcp_address if spec.addressing == "visa" else server.serial_tcp_url

    def rig_toml(self) -> str:
        """Role tables for a rig file: emulated roles with their driver + address."""
        import tomlkit

        document = tomlkit.document()
        for line in ("Emulated instruments (avalab emulate), for drivers in another program.",
                     "The APD counter and the TCSPC have no wire protocol: a rig in another process sees",
                     "the emulators' instruments but not their sample. To run a whole experiment",
                     "through real drivers and emulators, give a role address = \"emulator\" in a rig",
                     "file instead: its emulator then runs on that rig's own bench."):
            document.add(tomlkit.comment(line))
        document.add(tomlkit.nl())
        roles = tomlkit.table(is_super_table=True)
        for role, served in self.served.items():
            table = tomlkit.table()
            table.add("driver", served.spec.driver)
            table.add("address", served.address)
            table.add(tomlkit.nl())
            roles.add(role, table)
        document.add("roles", roles)
        return tomlkit.dumps(document)

    def close(self) -> None:
        for served in self.served.values():
            for server in served.servers:
                server.close()
        self.served.clear()
        for stand_in in self.stand_ins:
            stand_in.close()
        self.stand_ins.clear()

    def __enter__(self) -> "EmulatedBench":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attach_emulated_drivers(rig: Any, roles: Iterable[str] | None = None,
                            transport: str = "tcp",
                            drivers: dict[str, str] | None = None) -> EmulatedBench:
    """Serve ``roles`` of a simulated rig through emulators and swap in the real drivers
    (``drivers``: role -> driver name where it is not the role's default, e.g. lakeshore336).

    The rig keeps its bench and clock; the returned EmulatedBench must be closed after the rig.
    """
    in_process = [r for r in roles or () if r in IN_PROCESS_ROLES]
    for role in in_process:
        driver_name = (drivers or {}).get(role)
        if emulation_for(role, driver_name) is None:
            raise ValueError(f"{role}={driver_name!r} cannot be emulated; allowed values: "
                             f"{', '.join(emulated_drivers(role))}")
    wire = None if roles is None else [r for r in roles if r not in in_process]
    bench = EmulatedBench(rig, wire, transport,
                          {r: d for r, d in (drivers or {}).items() if r not in in_process})
    bench.start()
    for role, served in bench.served.items():
        role_config = getattr(rig, "config", None)
        options = dict(role_config.roles[role].options) if role_config and role in role_config.roles else {}
        driver = create_driver(role, served.spec.driver, served.address, rig.clock,
                               **{"timeout_s": EMULATED_REPLY_TIMEOUT_S, **served.spec.driver_options, **options})
        rig.use_instrument(role, driver)
        log.info("%s: real %s driver on %s", role, served.spec.driver, served.address)
    for role in in_process:
        bench.stand_ins.append(_load(IN_PROCESS_ROLES[role].emulator)(rig, role))
    return bench
