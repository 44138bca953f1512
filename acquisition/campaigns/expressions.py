"""Safe arithmetic for campaign files: ``"${5 * (spot % 9)}"``, ``"${linspace(77, 150, 5)}"``.

Only literals, names of campaign variables, arithmetic, comparisons, conditional expressions,
list literals and a few whitelisted functions are allowed; anything else (attributes, calls to
other names, comprehensions, subscripts) is rejected at validation time, before any instrument
moves. Evaluation is plain Python on the parsed tree, never ``eval``.

Every evaluation problem (division by zero, overflow, a string where a number belongs, a list
longer than ``MAX_LIST_LENGTH``, a power too large to compute) is an ``ExpressionError`` with one
line naming the expression; ``range``/``linspace``/``logspace`` check their length before
building anything.
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
#: the longest list an expression may build (range, linspace, repeated lists or strings); a
#: campaign has at most this many units (spec.MAX_UNITS), so no loop needs more
MAX_LIST_LENGTH = 100_000
#: integer powers are refused beyond this many bits of result (``10**10**10`` would hang)
MAX_INT_BITS = 4096


class _Refused(ValueError):
    """A function argument or result outside what an expression may compute (message as is)."""


def _numbers(function: str, args: tuple[Any, ...]) -> list[float]:
    for value in args:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Refused(f"{function}() takes numbers; got {value!r}")
        if not math.isfinite(value):
            raise _Refused(f"{function}() takes finite numbers; got {value!r}")
    return list(args)


def _length(function: str, n: float) -> int:
    if not float(n).is_integer() or n < 0:
        raise _Refused(f"{function}(): the number of values must be a whole number >= 0; got {n!r}")
    if n > MAX_LIST_LENGTH:
        raise _Refused(f"{function}() would give {int(n)} values; allowed at most {MAX_LIST_LENGTH}")
    return int(n)


def _range(*args: float) -> list[float]:
    values = _numbers("range", args)
    if not 1 <= len(values) <= 3:
        raise _Refused(f"range() takes 1 to 3 numbers (stop | start, stop | start, stop, step); got {len(values)}")
    start, stop, step = (0, values[0], 1) if len(values) == 1 else (values[0], values[1], values[2] if len(values) == 3 else 1)
    if step == 0:
        raise _Refused("range(): step must not be 0")
    _length("range", max(0, math.ceil((stop - start) / step)))  # before anything is built
    return [int(v) if float(v).is_integer() else v for v in np.arange(start, stop, step).tolist()]


def _linspace(a: float, b: float, n: float) -> list[float]:
    a, b, n = _numbers("linspace", (a, b, n))
    return np.linspace(a, b, _length("linspace", n)).tolist()


def _logspace(a: float, b: float, n: float) -> list[float]:
    a, b, n = _numbers("logspace", (a, b, n))
    if a <= 0 or b <= 0:
        raise _Refused(f"logspace() takes positive end points; got {a!r}, {b!r}")
    return np.geomspace(a, b, _length("logspace", n)).tolist()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "range": _range,
    "linspace": _linspace,
    "logspace": _logspace,
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
        raise ExpressionError(f"expression {_short(text)} is not valid ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):  # absurdly nested, or a NUL character
        raise ExpressionError(f"expression {_short(text)} is not valid (too deeply nested or "
                              "unreadable)") from None
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
    """Evaluate a whitelisted expression with ``variables``; every problem is an ExpressionError."""
    try:
        return _eval(parse(text).body, variables, text)
    except ExpressionError:
        raise
    except RecursionError:
        raise ExpressionError(f"expression {_short(text)}: nested too deeply") from None
    except MemoryError:
        raise ExpressionError(f"expression {_short(text)}: result too large") from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise ExpressionError(f"expression {_short(text)}: {_why(exc)}") from None


def _short(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _why(exc: BaseException) -> str:
    """One line for an evaluation error, naming what went wrong in words."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, OverflowError):
        return "result too large for a number (overflow)"
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return message if isinstance(exc, _Refused) else f"{message} ({type(exc).__name__})"


def _guard_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse, before computing, results that would take unbounded time or memory."""
    if isinstance(op, ast.Pow) and isinstance(left, int) and isinstance(right, int) \
            and not isinstance(right, bool) and right > 0 and abs(left) > 1 \
            and abs(left).bit_length() * right > MAX_INT_BITS:
        raise _Refused(f"{left!r} ** {right!r} is too large to compute")
    if isinstance(op, ast.Mult):
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list)) and isinstance(times, int) and len(seq) * times > MAX_LIST_LENGTH:
                raise _Refused(f"repeating a {type(seq).__name__} {times} times gives more than "
                               f"{MAX_LIST_LENGTH} items; allowed at most {MAX_LIST_LENGTH}")


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
        left, right = _eval(node.left, variables, text), _eval(node.right, variables, text)
        _guard_size(node.op, left, right)
        return _BINARY[type(node.op)](left, right)
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
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise ExpressionError(f"expression {_short(text)}: {_why(exc)}") from None
    raise ExpressionError(f"expression {text!r}: {type(node).__name__} is not allowed")  # pragma: no cover
