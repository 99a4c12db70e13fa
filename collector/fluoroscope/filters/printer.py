"""Printing filter expression trees back as text, canonically.

``parse(format_filter(node)) == node`` for every tree: composite operands are parenthesised,
keywords print lowercase, operators uppercase, strings double-quoted with ``"`` and ``\\``
escaped.
"""

import json

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


def format_filter(node: Node) -> str:
    """The canonical text of an expression."""
    if isinstance(node, And):
        return f"{_operand(node.left)} AND {_operand(node.right)}"
    if isinstance(node, Or):
        return f"{_operand(node.left)} OR {_operand(node.right)}"
    if isinstance(node, Not):
        return f"!{_operand(node.operand)}"
    if isinstance(node, Present):
        return _subject(node.subject)
    if isinstance(node, Compare):
        op = node.op.upper() if node.op.isalpha() else node.op
        return f"{_subject(node.subject)} {op} {_value(node.value)}"
    if isinstance(node, Service):
        inner = "" if node.node is None else _node_ref(node.node)
        return f"service({inner}){_block(node.block)}"
    if isinstance(node, Edge):
        return f"edge({_node_ref(node.source)}, {_node_ref(node.target)}){_block(node.block)}"
    if isinstance(node, Group):
        return f"group.{node.attribute} {node.op} {_string(node.value)}"
    if isinstance(node, RootCause):
        return f"rootcause.{node.kind}.{node.level}{_block(node.block)}"
    if isinstance(node, RootCauseJson):
        return "rootcause.json = #[" + ", ".join(json.dumps(v) for v in node.values) + "]"
    raise TypeError(f"not a filter node: {node!r}")


def _operand(node: Node) -> str:
    text = format_filter(node)
    return f"({text})" if isinstance(node, And | Or | Not) else text


def _subject(subject: Field | Annotation) -> str:
    return f"annotation.{subject.key}" if isinstance(subject, Annotation) else subject.name


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _string(value)


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
    return f"id({', '.join(parts)})"


def _block(block: Node | None) -> str:
    return "" if block is None else f" {{ {format_filter(block)} }}"
