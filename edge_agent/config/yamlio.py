"""YAML loading and pydantic validation whose errors name the file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..core.errors import EdgeAgentError

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=EdgeAgentError)


def _node_at(root: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[yaml.Node | None, bool]:
    """Walk `loc` down the composed node tree; the bool is True if the full path was found."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node = value
                    break
            else:
                return node, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node, False
            node = node.value[part]
        else:
            return node, False
    return node, True


def _key_node(root: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The node of the key itself (for unknown keys), else the value node."""
    parent, found = _node_at(root, loc[:-1])
    if found and isinstance(parent, yaml.MappingNode):
        for key, _value in parent.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(loc[-1]):
                return key
    return _node_at(root, loc)[0]


def _describe(err: ErrorDetails, model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    got = _short(err.get("input"))
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        return f"expected {msg.removeprefix('Input should be ')}, got {got}"
    return msg if "got" in msg else f"{msg} (got {got})"


def _short(value: Any) -> str:
    """A bounded repr: a huge input must not make a huge (or slow) message."""
    if isinstance(value, dict | list):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    text = repr(value) if not isinstance(value, str) or len(value) < 200 else repr(value[:80]) + "…"
    return text if len(text) <= 120 else text[:117] + "…"


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == str(part)), None)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


MAX_FILE_BYTES = 1024 * 1024


class _NoAliases(yaml.SafeLoader):
    """Config and profile files have no use for anchors; refusing aliases stops billion-laughs files."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in this file", event.start_mark
            )
        return super().compose_node(parent, index)


def load_yaml(path: Path, error: type[E]) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file, returning the data and its node tree (for line numbers)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise error(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KiB; this is not a config file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read file ({exc})") from None
    try:
        node = yaml.compose(text, Loader=_NoAliases)
        data = yaml.load(text, Loader=_NoAliases)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}{where}: invalid YAML: {problem}") from None
    return data, node


def validate_file(model: type[M], path: Path, error: type[E], defaults: dict[str, Any] | None = None) -> M:
    """Load `path` as YAML and validate it against `model`, raising one readable `error` line."""
    data, node = load_yaml(path, error)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}:1: expected a mapping of keys at the top level, got {type(data).__name__}")
    merged = {**(defaults or {}), **data}
    return validate_data(model, merged, path, node, error)


def validate_data(model: type[M], data: Any, path: Path, node: yaml.Node | None, error: type[E]) -> M:
    """Validate already-parsed data; every mistake becomes one line naming the file, line and key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_line(err, model, path, node) for err in exc.errors()[:50]]
        raise error("\n".join(dict.fromkeys(lines))) from None


def _line(err: ErrorDetails, model: type[BaseModel], path: Path, node: yaml.Node | None) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    target = _key_node(node, loc) if err["type"] == "extra_forbidden" else _node_at(node, loc)[0]
    line = target.start_mark.line + 1 if target is not None else 1
    key = ".".join(str(p) for p in loc) or "(top level)"
    return f"{path}:{line}: {key}: {_describe(err, model, loc)}"
