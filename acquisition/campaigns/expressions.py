"""Safe arithmetic for campaign files: ``"${5 * (spot % 9)}"``, ``"${linspace(77, 150, 5)}"``.

Only literals, names of campaign variables, arithmetic, comparisons, conditional expressions,
list literals and a few whitelisted functions are allowed; anything else (attributes, calls to
other names, comprehensions, subscripts) is rejected at validation time, before any instrument
moves. Evaluation is plain Python on the parsed tree, never ``eval``.
"""
from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

TEMPLATE_PREFIX = "${"
TEMPLATE_SUFFIX = "}"


def _range(*args: float) -> list[float]:
    return [int(v) if float(v).is_integer() else v for v in np.arange(*args).tolist()]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "range": _range,
    "linspace": lambda a, b, n: np.linspace(a, b, int(n)).tolist(),
    "logspace": lambda a, b, n: np.geomspace(a, b, int(n)).tolist(),
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "int": int,
    "float": float,
    "sqrt": math.sqrt,
    "log10": math.log10,
}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


class ExpressionError(ValueError):
    """An expression is malformed, uses something not allowed, or names an unknown variable."""


def is_template(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(TEMPLATE_PREFIX) and value.endswith(TEMPLATE_SUFFIX)


def parse(text: str) -> ast.Expression:
    """Parse and whitelist-check ``text`` (without the ${ }) ; ExpressionError if not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"expression {text!r} is not valid ({exc.msg})") from None
    for node in ast.walk(tree):
        allowed = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp,
                   ast.Compare, ast.IfExp, ast.List, ast.Tuple, ast.Call, ast.BoolOp, ast.And,
                   ast.Or, *(_BINARY), *(_UNARY), *(_COMPARE))
        if not isinstance(node, allowed):
            raise ExpressionError(f"expression {text!r}: {type(node).__name__} is not allowed; "
                                  f"allowed: arithmetic, comparisons, lists, {', '.join(FUNCTIONS)}()")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ExpressionError(f"expression {text!r}: only {', '.join(FUNCTIONS)}() may be called")
            if node.keywords:
                raise ExpressionError(f"expression {text!r}: keyword arguments are not allowed")
    return tree


def names_in(text: str) -> set[str]:
    """Variable names an expression reads (function names excluded)."""
    tree = parse(text)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate a whitelisted expression with ``variables``."""
    return _eval(parse(text).body, variables, text)


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """Substitute ``"${...}"`` templates anywhere inside ``value`` (dicts and lists recursed)."""
    if is_template(value):
        return evaluate(value[len(TEMPLATE_PREFIX):-len(TEMPLATE_SUFFIX)], variables)
    if isinstance(value, dict):
        return {k: resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    return value


def template_names(value: Any) -> set[str]:
    """Every variable name used by templates inside ``value``."""
    if is_template(value):
        return names_in(value[len(TEMPLATE_PREFIX):-len(TEMPLATE_SUFFIX)])
    if isinstance(value, dict):
        return set().union(*(template_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(template_names(v) for v in value)) if value else set()
    return set()


def _eval(node: ast.AST, variables: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool)):
            raise ExpressionError(f"expression {text!r}: constant {node.value!r} is not allowed")
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise ExpressionError(f"expression {text!r}: unknown variable {node.id!r}; known: {known}")
        return variables[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, variables, text), _eval(node.right, variables, text))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, variables, text))
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, variables, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, variables, text)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, variables, text)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, variables, text) else node.orelse
        return _eval(branch, variables, text)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, variables, text) for e in node.elts]
    if isinstance(node, ast.Call):
        args = [_eval(a, variables, text) for a in node.args]
        try:
            return FUNCTIONS[node.func.id](*args)  # type: ignore[union-attr]
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise ExpressionError(f"expression {text!r}: {exc}") from None
    raise ExpressionError(f"expression {text!r}: {type(node).__name__} is not allowed")  # pragma: no cover
