"""Strict pydantic base model and validation that names the offending key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from edgekd.errors import EdgekdError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for every config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe(err: ValidationError, source: str, prefix: str = "") -> str:
    """First error of ``err`` as one line: ``source: key.path: message``."""
    first = err.errors()[0]
    loc = _loc(tuple(first["loc"]))
    loc = f"{prefix}.{loc}" if prefix and loc != "(top level)" else (prefix or loc)
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key; remove it or check its spelling"
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"


def validate(model: type[M], data: Any, source: str, prefix: str = "") -> M:
    """Validate ``data`` as ``model``; raise EdgekdError naming ``source`` and the key path."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise EdgekdError(describe(err, source, prefix)) from None


def load_yaml(path: str | Path, what: str) -> Any:
    """Read a YAML file with ``safe_load``: at most MAX_CONFIG_BYTES of UTF-8, no tags that build Python objects,
    bounded nesting and size (aliases expanded). Missing or malformed files raise EdgekdError."""
    from edgekd.inputs import check_tree, read_config_text

    path = Path(path)
    text = read_config_text(path, what)
    try:
        return check_tree(yaml.safe_load(text), str(path))
    except yaml.constructor.ConstructorError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        tag = (err.problem or "").split("tag ")[-1].strip("' ") or "?"
        raise EdgekdError(f"{path}: YAML tag {tag!r} refused{where}; edgekd reads plain YAML only, never tags that "
                          "build Python objects") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise EdgekdError(f"{path}: not valid YAML{where}; fix the syntax") from None
    except RecursionError:
        raise EdgekdError(f"{path}: nested too deeply to read; flatten it") from None


def check_overrides(model: type[M], values: dict[str, Any], source: str) -> dict[str, Any]:
    """Check partial ``values`` for ``model`` (unknown keys, types, ranges) and return them unchanged."""
    try:
        model.model_validate(values)
    except ValidationError as err:
        raise EdgekdError(describe(err, source)) from None
    return values
