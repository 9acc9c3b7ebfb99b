"""The `calculator` tool: safe arithmetic by walking the expression's AST (never eval)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from ._core import JSONValue, ToolContext, ToolError, tool

Number = int | float

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
# Past this many bits an int cannot be printed as JSON (Python caps str(int) at 4300 digits).
MAX_INT_BITS = 4_096

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "min": lambda *xs: min(xs),
    "max": lambda *xs: max(xs),
    "abs": abs,
    "round": round,
    "sqrt": math.sqrt,
    "log": math.log,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
_ALLOWED = (
    "numbers, + - * / // % **, unary minus, parentheses, the constants pi and e, "
    "and the functions " + ", ".join(_FUNCTIONS)
)


# What an expression may be made of, as a JSON-schema pattern: a constrained decoder then writes
# arithmetic, never prose ("the score is 80"). Only in the schema: the evaluator's own errors
# say more than a pattern mismatch would.
EXPRESSION_PATTERN = (
    "^([0-9.,+*/%() -]|" + "|".join([*sorted(_FUNCTIONS, key=len, reverse=True), "pi", "e"]) + ")+$"
)


class CalculatorArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(
        description="Arithmetic expression, e.g. '(1200 * 0.15) + sqrt(16)' or 'round(7 / 3, 2)'.",
        min_length=1,
        max_length=MAX_EXPRESSION_CHARS,
        json_schema_extra={"pattern": EXPRESSION_PATTERN},
    )


@tool(name="calculator", scopes=("compute",))
async def calculator(args: CalculatorArgs, ctx: ToolContext) -> JSONValue:
    """Evaluate an arithmetic expression: numbers, + - * / // % **, parentheses, pi, e, and
    min, max, abs, round, sqrt, log (e.g. 'round(1200 * 0.15 / 7, 2)').
    """
    return {"expression": args.expression, "result": evaluate(args.expression)}


def evaluate(expression: str) -> Number:
    """Evaluate `expression`, raising ToolError for anything outside plain arithmetic."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(
            f"calculator: {expression!r} is not a valid expression ({exc.msg})"
        ) from exc
    try:
        result = _eval(tree.body)
    except ZeroDivisionError as exc:
        raise ToolError(f"calculator: division by zero in {expression!r}") from exc
    except (OverflowError, ValueError, TypeError) as exc:
        raise ToolError(f"calculator: cannot compute {expression!r}: {exc}") from exc
    return _checked(result)


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        return _constant(node)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _binary(node)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(f"calculator: the name {node.id!r} is not allowed; allowed: {_ALLOWED}")
    raise ToolError(
        f"calculator: {type(node).__name__} ({ast.unparse(node)!r}) is not allowed; "
        f"allowed: {_ALLOWED}"
    )


def _constant(node: ast.Constant) -> Number:
    # bool is an int subclass; True + 1 is not arithmetic a user meant.
    if isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    raise ToolError(f"calculator: only numbers are allowed as literals, not {node.value!r}")


def _binary(node: ast.BinOp) -> Number:
    left, right = _eval(node.left), _eval(node.right)
    if isinstance(node.op, ast.Pow):
        _check_power(left, right)
    return _checked(_BINARY[type(node.op)](left, right))


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"calculator: exponent {exponent} is too large (limit {MAX_EXPONENT})")
    exact = isinstance(base, int) and isinstance(exponent, int)
    # Checked before computing: building the giant int is itself the cost we want to avoid.
    if exact and abs(base) > 1 and exponent > 0 and exponent * math.log2(abs(base)) > MAX_INT_BITS:
        raise ToolError(
            f"calculator: {base} ** {exponent} is too large to compute "
            f"(results are limited to about {int(MAX_INT_BITS * math.log10(2))} digits)"
        )


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        called = ast.unparse(node.func)
        raise ToolError(f"calculator: calling {called!r} is not allowed; allowed: {_ALLOWED}")
    if node.keywords:
        raise ToolError(f"calculator: {node.func.id}() takes positional arguments only")
    if not node.args:
        raise ToolError(f"calculator: {node.func.id}() needs at least one argument")
    values = [_eval(arg) for arg in node.args]
    return _checked(_FUNCTIONS[node.func.id](*values))


def _checked(value: object) -> Number:
    """Reject results JSON cannot carry: complex numbers, inf/nan, giant ints."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"calculator: the result {value!r} is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("calculator: the result is infinite or undefined (overflow or nan)")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError("calculator: the result is too large (over ~1200 digits)")
    return value
