"""``groupware check-config``: validate and print the effective configuration."""

from __future__ import annotations

import argparse
import json
from typing import Any

from groupware.cli import EXIT_OK
from groupware.cli.common import command_parser, config_from_args
from groupware.config import as_plain


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "check-config", "validate the configuration and print it",
                       "Read the configuration (file, GROUPWARE__* environment, options), "
                       "validate every key and print the effective values with secrets "
                       "masked. Exit status 2 names the first wrong key.")
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    p.set_defaults(func=run_check_config)


def run_check_config(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    plain = as_plain(config)
    if args.json:
        print(json.dumps(plain, indent=2))  # noqa: T201
    else:
        print(to_toml(plain), end="")  # noqa: T201
    return EXIT_OK


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for the shapes our config has: tables, sub-tables, arrays of
    tables, inline tables for maps; unset (None) values become comments."""
    lines: list[str] = []
    for name, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"\n[[{name}]]")
                lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in item.items()
                          if v is not None]
        elif isinstance(value, dict):
            _table(lines, name, value)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], path: str, table: dict[str, Any]) -> None:
    lines.append(f"\n[{path}]")
    nested = {k: v for k, v in table.items() if isinstance(v, dict) and v}
    for k, v in table.items():
        if k in nested:
            continue
        lines.append(f"# {k} is not set" if v is None else f"{_key(k)} = {_toml_value(v)}")
    for k, v in nested.items():
        _table(lines, f"{path}.{_key(k)}", v)


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_toml_value(x)}" for k, x in v.items()
                               if x is not None) + "}"
    return json.dumps(str(v), ensure_ascii=False)
