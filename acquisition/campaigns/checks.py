"""What a campaign checks for each unit's experiment before anything moves.

``experiment_checker(rig, calibration_store)`` gives the ``schema_check`` of ``load_campaign``:
every schema problem of a unit's ``params`` (``Experiment.validate_all``), the rig checks (the
``temperature_k`` limits, density limit) of the fields that are valid even when another field is
not, and, once the params are valid, the experiment's start-time preflight against the stored
calibrations (``Experiment.preflight_check``, as ``engine.start`` and ``avalab sweep`` run it).
So a unit that ``engine.start`` would refuse is reported with its line by validation and by
``--dry-run``, not after earlier units have run.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

SchemaCheck = Callable[[str, dict[str, Any]], list[str]]


class CachedCalibrations:
    """A calibration store read once: a campaign checks thousands of units against the same
    stored calibrations (``load_for_rig`` and ``load_control_range`` are memoised)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._cache: dict[tuple[str, Any], Any] = {}

    def load_for_rig(self, rig: Any) -> Any:
        key = ("rig", id(rig))
        if key not in self._cache:
            self._cache[key] = self._store.load_for_rig(rig)
        return self._cache[key]

    def load_control_range(self, config: Any, wavelength_m: float) -> Any:
        key = ("control", (id(config), float(wavelength_m)))
        if key not in self._cache:
            self._cache[key] = self._store.load_control_range(config, wavelength_m)
        return self._cache[key]

    def __getattr__(self, name: str) -> Any:  # anything else straight from the store
        return getattr(self._store, name)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _field(message: str) -> str:
    return message.split("=", 1)[0].strip().split()[-1] if "=" in message else ""


def _rig_checks_beside_schema_errors(experiment: Any, params: dict[str, Any], rig: Any,
                                     calibration_store: Any, errors: list[str]) -> list[str]:
    """Rig (and preflight) checks of the valid fields when other fields are invalid: those are
    replaced by their defaults for the check, and a message naming a replaced field is dropped
    (it would describe the default, not what the file says)."""
    from acquisition.experiments.base import check_temperature_limit

    values: dict[str, Any] = {}
    replaced: set[str] = set()
    for parameter in experiment.schema.parameters:
        try:
            values[parameter.name] = parameter.validate(params.get(parameter.name, parameter.default))
        except (ValueError, TypeError):
            replaced.add(parameter.name)
            try:
                values[parameter.name] = parameter.validate(parameter.default)
            except (ValueError, TypeError):
                return []  # no default to stand in: the other checks cannot run
    checks: list[Callable[[], None]] = [lambda: check_temperature_limit(values, rig)]
    if experiment.rig_check is not None:
        checks.append(lambda: experiment.rig_check(values, rig))
    if calibration_store is not None:
        checks.append(lambda: experiment.preflight_check(values, rig, calibration_store))
    found: list[str] = []
    reported = {_field(e) for e in errors}
    for check in checks:
        try:
            check()
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            message = _first_line(exc)
            name = _field(message)
            if name and name not in replaced and name not in reported:
                found.append(message)
                reported.add(name)
    return found


def experiment_checker(rig: Any, calibration_store: Any | None = None) -> SchemaCheck:
    """The per-unit experiment check of a campaign on ``rig`` (see the module docstring);
    ``calibration_store`` None: no preflight (nothing stored to check against)."""
    from acquisition.experiments import get_experiment

    store = CachedCalibrations(calibration_store) if calibration_store is not None else None

    def check(name: str, params: dict[str, Any]) -> list[str]:
        experiment = get_experiment(name)
        errors = experiment.schema_errors(params, rig)
        if errors:
            return errors + _rig_checks_beside_schema_errors(experiment, params, rig, store, errors)
        errors = experiment.validate_all(params, rig)
        if errors or store is None:
            return errors
        try:
            experiment.preflight_check(experiment.validate(params, rig), rig, store)
        except ValueError as exc:
            return [_first_line(exc)]
        return []

    return check
