"""Printing filter expression trees back as text, canonically.

``parse(format_filter(node)) == node`` for every tree :func:`~fluoroscope.filters.parse` can
return. Keywords print lowercase, ``AND``/``OR`` and the string operators uppercase, ``!`` for
negation, strings double-quoted with ``"`` and ``\\`` escaped, whole numbers without a
fraction (``3``, not ``3.0``) and other numbers as Python's shortest round-tripping form.
Parentheses appear only where precedence needs them: ``AND`` and ``OR`` group to the left,
so ``a AND b AND c`` is ``(a AND b) AND c`` and ``a AND (b AND c)`` keeps its parentheses.
"""

import json
import math

from fluoroscope.filters.ast import (
    And,
    Annotation,
    Compare,
    Edge,
    Field,
    Group,
    Node,
    NodeRef,
    Not,
    Or,
    Present,
    RootCause,
    RootCauseJson,
    Service,
    Value,
)

# Binding strength: OR < AND < ! < everything else.
_OR, _AND, _NOT, _TERM = 1, 2, 3, 4
# Floats with no fraction below this print as integers and still read back exactly.
_EXACT_INTEGERS = 2.0**53


def format_filter(node: Node) -> str:
    """The canonical text of an expression; ValueError when a node has no text form."""
    # One frame per tree level (no helper in between) keeps deep trees clear of the
    # recursion limit.
    if isinstance(node, And | Or):
        strength, word = (_AND, "AND") if isinstance(node, And) else (_OR, "OR")
        left = format_filter(node.left)
        if _strength(node.left) < strength:
            left = f"({left})"
        right = format_filter(node.right)
        if _strength(node.right) <= strength:
            right = f"({right})"
        return f"{left} {word} {right}"
    if isinstance(node, Not):
        operand = format_filter(node.operand)
        return f"!{operand}" if _strength(node.operand) >= _NOT else f"!({operand})"
    if isinstance(node, Present):
        return _subject(node.subject)
    if isinstance(node, Compare):
        op = node.op.upper() if node.op.isalpha() else node.op
        return f"{_subject(node.subject)} {op} {_value(node.value)}"
    if isinstance(node, Service):
        inner = "" if node.node is None else _node_ref(node.node)
        block = "" if node.block is None else f" {{ {format_filter(node.block)} }}"
        return f"service({inner}){block}"
    if isinstance(node, Edge):
        block = "" if node.block is None else f" {{ {format_filter(node.block)} }}"
        return f"edge({_node_ref(node.source)}, {_node_ref(node.target)}){block}"
    if isinstance(node, Group):
        return f"group.{node.attribute} {node.op} {_string(node.value)}"
    if isinstance(node, RootCause):
        return f"rootcause.{node.kind}.{node.level} {{ {format_filter(node.block)} }}"
    if isinstance(node, RootCauseJson):
        return "rootcause.json = #[" + ", ".join(json.dumps(v) for v in node.values) + "]"
    raise TypeError(f"not a filter node: {node!r}")


def _strength(node: Node) -> int:
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    return _NOT if isinstance(node, Not) else _TERM


def _subject(subject: Field | Annotation) -> str:
    return f"annotation.{subject.key}" if isinstance(subject, Annotation) else subject.name


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{number} has no text form in a filter expression")
    # -0.0 keeps repr's "-0.0" so that the sign survives the round trip.
    negative_zero = number == 0 and math.copysign(1.0, number) < 0
    if number.is_integer() and abs(number) < _EXACT_INTEGERS and not negative_zero:
        return str(int(number))
    return repr(number)


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _node_ref(ref: NodeRef) -> str:
    if ref.type is None and ref.account_id is None and ref.name is not None:
        return _string(ref.name)
    parts = [
        f"{key}: {_string(value)}"
        for key, value in (("name", ref.name), ("type", ref.type), ("account.id", ref.account_id))
        if value is not None
    ]
    if not parts:
        raise ValueError("a node reference needs a name, a type or an account id")
    return f"id({', '.join(parts)})"
