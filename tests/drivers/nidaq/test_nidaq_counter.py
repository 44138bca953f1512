"""APD counting on the NI-DAQ counter, with only the nidaqmx boundary replaced by a Poisson fake."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from nidaq_fakes import PoissonCounterBackend

from drivers.errors import InstrumentConnectionError, InstrumentError
from drivers.nidaq_backend import CounterWiring
from drivers.nidaq_counter import NIDAQPhotonCounter, cumulative_to_bins
from drivers.registry import create_driver
from sim_backends.clock import VirtualClock


RATE_CPS = 50_000.0


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def backend() -> PoissonCounterBackend:
    return PoissonCounterBackend(RATE_CPS)


@pytest.fixture
def counter(clock: VirtualClock, backend: PoissonCounterBackend) -> NIDAQPhotonCounter:
    device = NIDAQPhotonCounter(name="counter", address="Dev1/ctr0", clock=clock, backend=backend)
    device.connect()
    return device


def test_count_estimates_the_rate_and_waits_through_the_clock(
        counter: NIDAQPhotonCounter, clock: VirtualClock, backend: PoissonCounterBackend) -> None:
    counts = counter.count(2.0)
    expected = RATE_CPS * 2.0
    assert abs(counts - expected) < 5 * np.sqrt(expected)
    # 200 bins of 10 ms plus the reference bin, all waited on the rig clock
    assert clock.now() == pytest.approx(2.01)
    assert backend.calls[1][:2] == ("start", pytest.approx(100.0))
    assert backend.calls[2][:2] == ("read", 201)
    assert backend.calls[-1] == ("stop",) and not backend.running


def test_count_trace_bins_and_rate_from_differences(
        counter: NIDAQPhotonCounter, clock: VirtualClock, backend: PoissonCounterBackend) -> None:
    trace = counter.count_trace(1.0, 1e-3)
    assert trace.shape == (1000,)
    assert trace.dtype == np.int64 and (trace >= 0).all()
    per_bin = RATE_CPS * 1e-3
    assert trace.mean() == pytest.approx(per_bin, rel=0.05)
    assert trace.var() == pytest.approx(per_bin, rel=0.2)  # Poisson: variance = mean
    assert clock.now() == pytest.approx(1.001)
    assert backend.calls[1][1] == pytest.approx(1000.0)


def test_counter_rollover_is_handled(counter: NIDAQPhotonCounter,
                                     backend: PoissonCounterBackend) -> None:
    before = backend.register
    trace = counter.count_trace(0.5, 0.01)
    assert backend.register < before  # the 32-bit register wrapped during this trace
    assert trace.min() >= 0 and trace.max() < 5 * RATE_CPS * 0.01


def test_cumulative_to_bins_wraps_modulo_2_pow_32() -> None:
    raw = np.array([2**32 - 3, 2**32 - 1, 4, 10], dtype=np.uint32)
    assert cumulative_to_bins(raw).tolist() == [2, 5, 6]


@pytest.mark.parametrize("dwell, bin_", [
    (0.0, 0.0), (-1.0, 0.1), (float("nan"), 0.1), (4000.0, 1.0),  # dwell outside (1 us, 3600 s]
    (1.0, 0.0), (1.0, 2.0), (1.0, 1e-7),                            # bin outside [1 us, dwell]
    (100.0, 50.0),                                                  # bin above 40 s (overflow)
    (1.0, 0.3),                                                     # not a whole number of bins
    (3000.0, 1e-4),                                                 # more than 10 million bins
])
def test_invalid_dwell_or_bin_raises_before_counting(
        counter: NIDAQPhotonCounter, backend: PoissonCounterBackend, clock: VirtualClock,
        dwell: float, bin_: float) -> None:
    calls_before = list(backend.calls)
    with pytest.raises(ValueError) as info:
        counter.count_trace(dwell, bin_)
    assert "\n" not in str(info.value)
    assert backend.calls == calls_before and clock.now() == 0.0


@pytest.mark.parametrize("dwell", [0.0, -0.5, 1e-7, 7200.0])
def test_invalid_count_dwell_raises_before_counting(
        counter: NIDAQPhotonCounter, backend: PoissonCounterBackend, dwell: float) -> None:
    calls_before = list(backend.calls)
    with pytest.raises(ValueError, match="dwell_s"):
        counter.count(dwell)
    assert backend.calls == calls_before


def test_backend_failure_is_an_instrument_error_and_the_task_is_stopped(
        counter: NIDAQPhotonCounter, backend: PoissonCounterBackend) -> None:
    backend.fail_on = "read"
    with pytest.raises(InstrumentError, match="simulated DAQmx failure") as info:
        counter.count_trace(0.1, 0.01)
    assert info.value.instrument == "counter" and info.value.address == "Dev1/ctr0"
    assert backend.calls[-1] == ("stop",) and not backend.running


def test_missing_samples_are_an_instrument_error(counter: NIDAQPhotonCounter,
                                                 backend: PoissonCounterBackend) -> None:
    backend.short_read = True
    with pytest.raises(InstrumentError, match="expected 11"):
        counter.count_trace(0.1, 0.01)


def test_saturating_rate_is_logged(clock: VirtualClock, caplog: pytest.LogCaptureFixture) -> None:
    counter = NIDAQPhotonCounter(name="counter", clock=clock,
                                 backend=PoissonCounterBackend(30e6))
    counter.connect()
    with caplog.at_level(logging.WARNING, logger="drivers.nidaq_counter"):
        counter.count_trace(0.01, 0.001)
    assert "saturation" in caplog.text


def test_life_cycle_and_safe_state(clock: VirtualClock, backend: PoissonCounterBackend) -> None:
    counter = NIDAQPhotonCounter(name="counter", address="Dev2/ctr1", clock=clock, backend=backend)
    with pytest.raises(InstrumentConnectionError, match="not connected"):
        counter.count(0.1)
    with counter:
        assert counter.is_connected
        assert counter.identify() == "fake NI counter (Poisson)"
    assert not counter.is_connected
    assert ("stop",) in backend.calls and backend.calls[-1] == ("close",)
    # counting on ctr1, so the sample clock comes from ctr0
    assert counter.wiring == CounterWiring("Dev2/ctr1", "/Dev2/PFI0", "Dev2/ctr0", None)


def test_failed_open_is_a_connection_error(clock: VirtualClock) -> None:
    backend = PoissonCounterBackend(RATE_CPS)
    backend.fail_on = "open"
    counter = NIDAQPhotonCounter(name="counter", clock=clock, backend=backend)
    with pytest.raises(InstrumentConnectionError, match="simulated DAQmx failure"):
        counter.connect()
    assert not counter.is_connected


@pytest.mark.parametrize("address", ["ctr0", "Dev1/ai0", "Dev1/ctr", "/Dev1/ctr0"])
def test_bad_counter_address_is_rejected(address: str) -> None:
    with pytest.raises(ValueError, match="address="):
        NIDAQPhotonCounter(name="counter", address=address)


def test_wiring_defaults_and_clock_source() -> None:
    counter = NIDAQPhotonCounter(name="counter", address="Dev3/ctr2")
    assert counter.wiring.edge_terminal == "/Dev3/PFI0"
    assert counter.wiring.clock_counter == "Dev3/ctr1"
    assert counter.wiring.clock_source == "/Dev3/Ctr1InternalOutput"
    explicit = CounterWiring(sample_clock_source="/Dev1/ai/SampleClock")
    assert explicit.clock_source == "/Dev1/ai/SampleClock"
    with pytest.raises(ValueError, match="clock_counter"):
        NIDAQPhotonCounter(name="counter", address="Dev1/ctr0", clock_counter="Dev1/ctr0")


def test_real_nidaqmx_boundary_without_runtime_is_a_clear_connection_error() -> None:
    # no fake here: the real backend, with nidaqmx installed but no NI-DAQmx runtime/device
    counter = create_driver("counter", "nidaq_counter", "Dev1/ctr0", VirtualClock())
    assert isinstance(counter, NIDAQPhotonCounter)
    with pytest.raises(InstrumentConnectionError) as info:
        counter.connect()
    assert "NI-DAQmx" in str(info.value) or "nidaqmx" in str(info.value)
    assert not counter.is_connected
    counter.safe_state()  # must not raise on a counter that never connected
