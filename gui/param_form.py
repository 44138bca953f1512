"""A form generated from an experiment's parameter schema.

Every field is checked as the operator types (type, range, choices) and the schema's own
``validate_all`` adds the cross-field rules; each message is shown in red next to the field it
names, and ``validity_changed`` lets the panel keep Start disabled while anything is wrong.
Numbers are typed into line edits rather than spin boxes on purpose: a spin box silently clamps
an out-of-range value, and the operator would never learn what the allowed range is.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable, Protocol, Sequence

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                             QVBoxLayout, QWidget)

log = logging.getLogger(__name__)

ERROR_STYLE = "color: #c00000;"
INVALID_FIELD_STYLE = "background: #ffe0e0;"


class ParameterSpec(Protocol):
    """What the form needs from ``acquisition.experiments`` Parameter objects."""

    name: str
    label: str
    unit: str
    kind: str
    default: Any
    minimum: float | None
    maximum: float | None
    choices: Sequence[Any] | None
    help: str

    def validate(self, value: Any) -> Any: ...


class SchemaSpec(Protocol):
    parameters: list[ParameterSpec]

    def validate_all(self, params: dict[str, Any]) -> list[str]: ...


def _fmt(x: float) -> str:
    return f"{x:g}"


def display_unit(unit: str | None) -> str:
    """Schema units are ASCII ("kW/cm2"); the operator reads kW/cm² like on the plots."""
    return re.sub(r"(?<=m)([23])\b", lambda m: "²" if m.group(1) == "2" else "³", unit or "")


def _range_text(spec: ParameterSpec) -> str:
    low = spec.minimum
    high = spec.maximum
    if low is None and high is None:
        return ""
    return f"[{_fmt(low) if low is not None else '-inf'}, {_fmt(high) if high is not None else 'inf'}]"


def parse_field(spec: ParameterSpec, raw: Any) -> tuple[Any, str | None]:
    """Convert one widget value with the schema's own ``Parameter.validate``: (value, error|None).

    An empty text means "not set" (None): the parameter decides whether that is allowed.
    """
    value = raw
    if isinstance(raw, str):
        value = raw.strip() or None
        if value is None and spec.kind == "float_list" and not getattr(spec, "optional", False):
            value = []  # an empty list field is an empty list, not a missing value
        elif value is not None and spec.kind == "float_list":
            # operators type "5, 6 7"; the schema splits on commas only
            value = ",".join(part for part in value.replace(";", ",").replace(" ", ",").split(",") if part)
    try:
        return spec.validate(value), None
    except ValueError as exc:
        return value, str(exc)


def format_value(spec: ParameterSpec, value: Any) -> str:
    if value is None:
        return ""
    if spec.kind == "float_list" and not isinstance(value, str):
        return ", ".join(_fmt(float(v)) for v in value)
    if spec.kind == "float" and not isinstance(value, str):
        return _fmt(float(value))
    return str(value)


def errors_by_field(messages: Sequence[str], names: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Attribute one-line schema errors to the field they start with; the rest are form-level."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    # longest names first so "dwell_s_max" is not claimed by "dwell_s"
    ordered = sorted(names, key=len, reverse=True)
    for message in messages:
        owner = next((n for n in ordered if message.startswith(n) and
                      (len(message) == len(n) or not (message[len(n)].isalnum() or message[len(n)] == "_"))),
                     None)
        if owner is None:
            owner = next((n for n in ordered if f"{n}=" in message or f"'{n}'" in message), None)
        if owner is None:
            general.append(message)
        else:
            by_field[owner] = f"{by_field[owner]}; {message}" if owner in by_field else message
    return by_field, general


class ParameterForm(QWidget):
    """Editable form for one schema. ``values()`` returns typed values; ``errors()`` what is wrong."""

    validity_changed = pyqtSignal(bool)
    values_changed = pyqtSignal()

    def __init__(self, schema: SchemaSpec,
                 validate_all: Callable[[dict[str, Any]], list[str]] | None = None,
                 parent: QWidget | None = None) -> None:
        """``validate_all`` replaces ``schema.validate_all`` (e.g. an experiment's own check that
        also knows the rig's limits)."""
        super().__init__(parent)
        self.schema = schema
        self._validate_all = validate_all or schema.validate_all
        self.specs: dict[str, ParameterSpec] = {p.name: p for p in schema.parameters}
        self.editors: dict[str, QWidget] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.general_errors = QLabel()
        self.general_errors.setStyleSheet(ERROR_STYLE)
        self.general_errors.setWordWrap(True)
        self._valid = True
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for spec in schema.parameters:
            editor = self._make_editor(spec)
            self.editors[spec.name] = editor
            error = QLabel()
            error.setObjectName(f"error_{spec.name}")
            error.setStyleSheet(ERROR_STYLE)
            error.setWordWrap(True)
            error.hide()
            self.error_labels[spec.name] = error
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(0, 0, 0, 0)
            row_layout.addWidget(editor, 1)
            unit = QLabel(display_unit(spec.unit))
            unit.setMinimumWidth(50)
            row_layout.addWidget(unit)
            column = QWidget()
            column_layout = QVBoxLayout(column)
            column_layout.setContentsMargins(0, 0, 0, 0)
            column_layout.setSpacing(0)
            column_layout.addWidget(row)
            column_layout.addWidget(error)
            label = QLabel(spec.label or spec.name)
            tip = spec.help or ""
            span = _range_text(spec)
            if span:
                tip = f"{tip}\nallowed {span} {display_unit(spec.unit)}".strip()
            label.setToolTip(tip)
            editor.setToolTip(tip)
            layout.addRow(label, column)
        layout.addRow(self.general_errors)
        self.revalidate()

    def _make_editor(self, spec: ParameterSpec) -> QWidget:
        if spec.kind == "bool":
            box = QCheckBox()
            box.setChecked(bool(spec.default))
            box.toggled.connect(self._on_edit)
            return box
        if spec.kind == "str" and spec.choices:
            combo = QComboBox()
            combo.addItems([str(c) for c in spec.choices])
            if spec.default is not None:
                combo.setCurrentText(str(spec.default))
            combo.currentTextChanged.connect(self._on_edit)
            return combo
        edit = QLineEdit(format_value(spec, spec.default))
        edit.setObjectName(f"field_{spec.name}")
        span = _range_text(spec)
        optional = " — empty: not set" if getattr(spec, "optional", False) else ""
        edit.setPlaceholderText(f"{span or spec.kind}{optional}")
        edit.textChanged.connect(self._on_edit)
        return edit

    # --- reading and writing values ------------------------------------------------------------
    def raw_value(self, name: str) -> Any:
        editor = self.editors[name]
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QComboBox):
            return editor.currentText()
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def set_value(self, name: str, value: Any) -> None:
        """Set a field from a typed value (or raw text) as if the operator had typed it."""
        spec = self.specs[name]
        editor = self.editors[name]
        if isinstance(editor, QCheckBox):
            # values restored from an INI file arrive as the text "true"/"false"
            checked = value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)
            editor.setChecked(checked)
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        else:
            assert isinstance(editor, QLineEdit)
            editor.setText(value if isinstance(value, str) else format_value(spec, value))

    def values(self) -> dict[str, Any]:
        """Typed values of all fields (fields that do not parse keep their raw text)."""
        return {name: parse_field(spec, self.raw_value(name))[0] for name, spec in self.specs.items()}

    def raw_values(self) -> dict[str, str]:
        return {name: str(self.raw_value(name)) for name in self.specs}

    def field_error(self, name: str) -> str:
        label = self.error_labels[name]
        return label.text() if not label.isHidden() else ""

    def errors(self) -> list[str]:
        return [self.field_error(n) for n in self.specs if self.field_error(n)] + \
            ([self.general_errors.text()] if self.general_errors.text() else [])

    @property
    def is_valid(self) -> bool:
        return self._valid

    # --- validation ---------------------------------------------------------------------------
    def _on_edit(self, *_: Any) -> None:
        self.revalidate()
        self.values_changed.emit()

    def revalidate(self) -> bool:
        field_errors: dict[str, str] = {}
        typed: dict[str, Any] = {}
        for name, spec in self.specs.items():
            value, error = parse_field(spec, self.raw_value(name))
            typed[name] = value
            if error:
                field_errors[name] = error
        general: list[str] = []
        if field_errors:
            # the validator may know better words for a bad field (a rig-aware one states the
            # rig's temperature range, not the schema's absolute bound): prefer its message
            try:
                better, _ = errors_by_field(list(self._validate_all(typed)), list(self.specs))
            except Exception:  # noqa: BLE001 - the field's own message stands
                better = {}
            field_errors.update({name: better[name] for name in field_errors if name in better})
        if not field_errors:
            # only ask the schema once every field has its type: its messages then concern ranges
            # and cross-field rules, not a half-typed number
            try:
                messages = list(self._validate_all(typed))
            except Exception as exc:  # a schema bug must not take the GUI down; show it instead
                log.exception("schema.validate_all failed")
                messages = [f"validation failed: {exc}"]
            schema_errors, general = errors_by_field(messages, list(self.specs))
            field_errors.update(schema_errors)
        for name, label in self.error_labels.items():
            message = field_errors.get(name, "")
            label.setText(message)
            label.setVisible(bool(message))
            editor = self.editors[name]
            if isinstance(editor, QLineEdit):
                editor.setStyleSheet(INVALID_FIELD_STYLE if message else "")
        self.general_errors.setText("\n".join(general))
        self.general_errors.setVisible(bool(general))
        valid = not field_errors and not general
        if valid != self._valid:
            self._valid = valid
            self.validity_changed.emit(valid)
        self._valid = valid
        return valid
