"""The simulated rig with its wire-protocol roles served by their emulators (the public serving
API, ``EmulatedBench``) and the real drivers talking to them through a :class:`FaultProxy` each.

``proxied_emulators(rig, roles)`` is what ``attach_emulated_drivers`` does, with a proxy in
every link; ``ProxiedBench.read_state(role)`` asks the emulator itself, through a fresh real
driver on the emulator's own address (not through the proxy), what state the instrument is in:
the truth a test checks the run's report against.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fault_proxy import FaultProxy, ProxyGroup

from drivers import interfaces as itf
from drivers.clock import RealClock
from drivers.registry import create_driver
from sim_backends.emulators.bench_server import EmulatedBench

#: the reply timeout of the driver whose link a test breaks: a stall costs several of these
#: (each transaction and the safe-state retry), so it is kept short, yet a healthy exchange on a
#: loaded 2-core machine (two test workers, a proxy thread and an emulator thread per link) must
#: not reach it before the fault
DRIVER_TIMEOUT_S = 3.0
#: every other driver's (and the direct read-back links'): they never see a fault, so a generous
#: bound that only a hang would reach
HEALTHY_TIMEOUT_S = 30.0
#: roles whose state tells whether the rig is safe, and how each is read
SAFETY_ROLES = ("pump", "pump_shutter", "control_shutter", "emission_shutter", "control_laser",
                "chopper", "cryostat", "hwp", "nd_wheel", "control_attenuator", "xy_stage")


def _through(address: str, emulator_port: int, proxy_port: int) -> str:
    """The emulator's address with the proxy's port in place of the emulator's (the port as a
    whole number: 3827 is not the start of 38277)."""
    pattern = re.compile(rf"(:{{1,2}}){emulator_port}(?!\d)")
    if not pattern.search(address):
        raise ValueError(f"address={address!r} does not contain port {emulator_port}")
    return pattern.sub(rf"\g<1>{proxy_port}", address, count=1)


@dataclass
class ProxiedBench:
    rig: Any
    bench: EmulatedBench
    proxies: dict[str, ProxyGroup] = field(default_factory=dict)

    def read_state(self, role: str) -> dict[str, Any]:
        """The role's safety-relevant state, read from its emulator over a direct link."""
        served = self.bench.served[role]
        driver = create_driver(role, served.spec.driver, served.address, RealClock(),
                               **{"timeout_s": HEALTHY_TIMEOUT_S, **served.spec.driver_options})
        driver.connect()
        try:
            if isinstance(driver, itf.PumpLaser):
                return {"emission": driver.get_emission()}
            if isinstance(driver, itf.Shutter):
                return {"open": driver.is_open()}
            if isinstance(driver, itf.ControlLaser):
                return {"shutter": driver.get_shutter()}
            if isinstance(driver, itf.Chopper):
                return {"enabled": driver.get_enabled()}
            if isinstance(driver, itf.TemperatureController):
                return {"heater_range": driver.get_heater_range()}
            if isinstance(driver, (itf.RotationStage, itf.XYStage)):
                return {"moving": driver.is_moving()}
            return {}
        finally:
            driver.close()

    def unsafe_roles(self) -> dict[str, dict[str, Any]]:
        """Every emulated role whose emulator reports a state that is not safe."""
        unsafe: dict[str, dict[str, Any]] = {}
        for role in self.bench.served:
            if role not in SAFETY_ROLES:
                continue
            state = self.read_state(role)
            if any(state.get(key) for key in ("emission", "open", "shutter", "enabled", "heater_range", "moving")):
                unsafe[role] = state
        return unsafe

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.set_fault(None)

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()
        self.bench.close()


def proxied_emulators(rig: Any, roles: Iterable[str] | None = None,
                      drivers: dict[str, str] | None = None, faulted: str | None = None) -> ProxiedBench:
    """Serve ``roles`` of ``rig`` (all wire roles by default; ``drivers`` as in
    ``attach_emulated_drivers``) and swap in real drivers that reach them through fault proxies;
    the ``faulted`` role's driver gets the short ``DRIVER_TIMEOUT_S``, the others a generous one."""
    bench = EmulatedBench(rig, roles, "tcp", drivers)
    bench.start()
    proxied = ProxiedBench(rig, bench)
    for role, served in bench.served.items():
        address, proxies = served.address, []
        for server in served.servers:  # one link per axis for an XY stage
            port = server.tcp_port
            assert port is not None
            proxy = FaultProxy(("127.0.0.1", port), name=server.name).start()
            proxies.append(proxy)
            address = _through(address, port, proxy.port)
        proxied.proxies[role] = ProxyGroup(proxies)
        timeout_s = DRIVER_TIMEOUT_S if role == faulted else HEALTHY_TIMEOUT_S
        driver = create_driver(role, served.spec.driver, address,
                               rig.clock, **{"timeout_s": timeout_s, **served.spec.driver_options})
        rig.use_instrument(role, driver)
    return proxied
