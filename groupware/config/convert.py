"""Turn raw TOML/env values into typed, frozen dataclass sections.

One generic converter so that every section validates the same way: unknown keys,
wrong types and out-of-range values all raise :class:`ConfigError` naming the full key
path (``database.pool_size: expected an integer, got 'ten'``).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit, urlunsplit

from groupware.errors import ConfigError

T = TypeVar("T")


def secret(default: Any = "", *, doc: str = "", url: bool = False) -> Any:
    """A field whose value is masked by ``check-config``.

    ``url=True``: only the password inside the URL is masked, the rest stays readable.
    """
    return dataclasses.field(default=default, metadata={"secret": True, "doc": doc, "url": url})


def mask_url_password(value: str) -> str:
    """``scheme://user:pw@host/db`` -> ``scheme://user:***@host/db``."""
    parts = urlsplit(value)
    if parts.password is None:
        return value
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def build_section(cls: type[T], raw: object, path: str) -> T:
    """Build dataclass ``cls`` from mapping ``raw``; ``path`` prefixes error keys."""
    if not isinstance(raw, dict):
        raise ConfigError(path or "<root>", f"expected a table, got {_describe(raw)}")
    assert dataclasses.is_dataclass(cls)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = _join(path, unknown[0])
        raise ConfigError(key, f"unknown key (known keys: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        kwargs[name] = convert_value(hints[name], value, _join(path, name))
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(path or "<root>", str(exc)) from None
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def convert_value(tp: Any, value: object, key: str) -> Any:
    """Convert one value to type ``tp`` (str, int, float, bool, Path, enums, lists, unions)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None or (value == "" and type(None) in get_args(tp)):
            return None
        errors = []
        for option in options:
            try:
                return convert_value(option, value, key)
            except ConfigError as exc:
                errors.append(exc.why)
        raise ConfigError(key, "; ".join(errors))
    if origin in (list, tuple):
        (item_tp, *_rest) = get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {_describe(value)}")
        items = [convert_value(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a table, got {_describe(value)}")
        _k, v_tp = get_args(tp)
        return {str(k): convert_value(v_tp, v, _join(key, str(k))) for k, v in value.items()}
    if origin is typing.Literal:
        allowed = get_args(tp)
        if value not in allowed:
            choices = ", ".join(map(repr, allowed))
            raise ConfigError(key, f"expected one of {choices}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build_section(tp, value, key)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            names = ", ".join(repr(m.value) for m in tp)
            raise ConfigError(key, f"expected one of {names}, got {value!r}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
            return False
        raise ConfigError(key, f"expected true or false, got {_describe(value)}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected an integer, got {_describe(value)}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""), 0)
            except ValueError:
                pass
        raise ConfigError(key, f"expected an integer, got {_describe(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(key, f"expected a number, got {_describe(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"expected a string, got {_describe(value)}")
    if tp is Path:
        if isinstance(value, str) and value:
            return Path(value)
        raise ConfigError(key, f"expected a path, got {_describe(value)}")
    if tp is Any or tp is object:
        return value
    raise ConfigError(key, f"unsupported type {tp!r}")  # a bug in a section definition


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    return repr(value)


def as_plain(obj: object, *, mask_secrets: bool = True) -> Any:
    """Turn a section back into TOML-like plain data, masking secret fields."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if mask_secrets and f.metadata.get("secret") and value:
                out[f.name] = (mask_url_password(value) if f.metadata.get("url")
                               else "********")
            else:
                out[f.name] = as_plain(value, mask_secrets=mask_secrets)
        return out
    if isinstance(obj, (list, tuple)):
        return [as_plain(v, mask_secrets=mask_secrets) for v in obj]
    if isinstance(obj, dict):
        return {k: as_plain(v, mask_secrets=mask_secrets) for k, v in obj.items()}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    return obj
