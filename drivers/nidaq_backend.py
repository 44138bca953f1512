"""The one module that calls nidaqmx: a sample-clocked, continuous edge-counting task.

Everything else in avalab's APD counting (``drivers.nidaq_counter``) talks to the small
:class:`CounterBackend` protocol defined here, so tests replace exactly this boundary with a
fake that produces cumulative counts, and machines without the NI-DAQmx runtime can still import
the driver. ``nidaqmx`` is imported lazily, inside :meth:`NIDAQmxCounterBackend.open`.

Counting pattern (instruments.md section 4): the APD's TTL pulses go to ``/Dev1/PFI0``, counted
by ``Dev1/ctr0`` (``add_ci_count_edges_chan`` + ``ci_count_edges_term``). Counter inputs have no
internal sample clock, so a second counter (``Dev1/ctr1`` by default) generates a continuous
pulse train at the bin rate and its internal output latches the count: each sample is the
*cumulative* count at one clock edge (a 32-bit register that wraps), and counts per bin are
successive differences.

UNVERIFIED: nothing in this module has run against NI hardware or the NI-DAQmx runtime (neither
is installable here). In particular: that ``/<Dev>/Ctr1InternalOutput`` is a valid sample-clock
source on the lab's card (X-series assumed), that starting the counter task before the clock
task gives a clean first sample, the buffer sizing, and the exact DaqError texts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class CounterBackendError(RuntimeError):
    """The counting hardware or its runtime failed (wraps nidaqmx errors)."""


class CounterBackend(Protocol):
    """What :class:`~drivers.nidaq_counter.NIDAQPhotonCounter` needs from the hardware.

    ``read`` returns *cumulative* counts (uint32, wrapping at 2**32), one per sample-clock edge,
    the first one taken one clock period after ``start``.
    """

    def open(self) -> None: ...

    def describe(self) -> str: ...

    def start(self, sample_rate_hz: float, buffer_samples: int) -> None: ...

    def read(self, samples: int, timeout_s: float) -> np.ndarray: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CounterWiring:
    """Which counter counts, which terminal carries the APD pulses, what clocks the samples."""

    counter: str = "Dev1/ctr0"
    edge_terminal: str = "/Dev1/PFI0"
    clock_counter: str = "Dev1/ctr1"
    #: explicit sample-clock terminal; None = the internal output of ``clock_counter``
    sample_clock_source: str | None = None

    @property
    def device(self) -> str:
        return self.counter.split("/", 1)[0]

    @property
    def clock_source(self) -> str:
        if self.sample_clock_source:
            return self.sample_clock_source
        device, counter = self.clock_counter.split("/", 1)
        return f"/{device}/{counter.capitalize()}InternalOutput"


class NIDAQmxCounterBackend:
    """:class:`CounterBackend` on the NI-DAQmx runtime (UNVERIFIED, see module docstring)."""

    def __init__(self, wiring: CounterWiring) -> None:
        self.wiring = wiring
        self._nidaqmx: Any = None
        self._count_task: Any = None
        self._clock_task: Any = None
        self._reader: Any = None

    def open(self) -> None:
        try:
            import nidaqmx  # the runtime check happens on first use, so do it here
            import nidaqmx.system

            nidaqmx.system.System.local().driver_version  # noqa: B018 - raises without runtime
            nidaqmx.system.Device(self.wiring.device).product_type  # noqa: B018 - raises if absent
        except ImportError as exc:
            raise CounterBackendError(f"the nidaqmx package is not installed ({exc})") from exc
        except Exception as exc:  # DaqNotFoundError, DaqError: no runtime or no such device
            raise CounterBackendError(f"NI-DAQmx unavailable for {self.wiring.device}: {exc}") from exc
        self._nidaqmx = nidaqmx

    def describe(self) -> str:
        device = self._nidaqmx.system.Device(self.wiring.device)
        return f"NI {device.product_type} s/n {device.dev_serial_num:X} ({self.wiring.counter})"

    def start(self, sample_rate_hz: float, buffer_samples: int) -> None:
        nidaqmx = self._nidaqmx
        if nidaqmx is None:
            raise CounterBackendError("backend not opened")
        from nidaqmx.constants import AcquisitionType, CountDirection, Edge
        from nidaqmx.stream_readers import CounterReader

        self.stop()
        try:
            count_task = nidaqmx.Task()
            self._count_task = count_task
            channel = count_task.ci_channels.add_ci_count_edges_chan(
                self.wiring.counter, edge=Edge.RISING, initial_count=0,
                count_direction=CountDirection.COUNT_UP)
            channel.ci_count_edges_term = self.wiring.edge_terminal
            count_task.timing.cfg_samp_clk_timing(
                sample_rate_hz, source=self.wiring.clock_source, active_edge=Edge.RISING,
                sample_mode=AcquisitionType.CONTINUOUS, samps_per_chan=buffer_samples)
            self._reader = CounterReader(count_task.in_stream)

            if not self.wiring.sample_clock_source:
                clock_task = nidaqmx.Task()
                self._clock_task = clock_task
                clock_task.co_channels.add_co_pulse_chan_freq(
                    self.wiring.clock_counter, freq=sample_rate_hz, duty_cycle=0.5)
                clock_task.timing.cfg_implicit_timing(sample_mode=AcquisitionType.CONTINUOUS)
            # arm the counter first so the first clock edge already finds it counting
            count_task.start()
            if self._clock_task is not None:
                self._clock_task.start()
        except Exception as exc:  # nidaqmx.DaqError and friends
            self.stop()
            raise CounterBackendError(f"cannot start counting on {self.wiring.counter}: {exc}") from exc

    def read(self, samples: int, timeout_s: float) -> np.ndarray:
        if self._reader is None:
            raise CounterBackendError("read before start")
        data = np.zeros(samples, dtype=np.uint32)
        try:
            got = self._reader.read_many_sample_uint32(
                data, number_of_samples_per_channel=samples, timeout=timeout_s)
        except Exception as exc:
            raise CounterBackendError(f"reading {samples} samples from {self.wiring.counter} "
                                      f"failed: {exc}") from exc
        return data[:got]

    def stop(self) -> None:
        for attribute in ("_clock_task", "_count_task"):
            task = getattr(self, attribute)
            setattr(self, attribute, None)
            if task is None:
                continue
            try:
                task.stop()
                task.close()
            except Exception:  # stopping must not mask the error that made us stop
                log.warning("stopping %s task failed", attribute, exc_info=True)
        self._reader = None

    def close(self) -> None:
        self.stop()
        self._nidaqmx = None
