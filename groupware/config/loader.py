"""Read the configuration: TOML file, then environment overrides, then CLI overrides.

Environment variables let containers change any scalar key without a file:
``GROUPWARE__DATABASE__URL=postgresql+psycopg://...`` sets ``[database] url``;
``GROUPWARE__LISTENERS`` takes a JSON array of listener tables.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from groupware.config.convert import build_section
from groupware.config.sections import Config
from groupware.errors import ConfigError

ENV_PREFIX = "GROUPWARE__"
ENV_CONFIG_FILE = "GROUPWARE_CONFIG"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "configuration file does not exist") from None
    except PermissionError:
        raise ConfigError(str(path), "configuration file is not readable") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Overlay ``GROUPWARE__SECTION__KEY`` variables onto the raw TOML tables."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if parts == ["listeners"]:
            try:
                out["listeners"] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{name}", f"expected a JSON array: {exc}") from None
            continue
        if len(parts) != 2 or not all(parts):
            raise ConfigError(name, "expected GROUPWARE__<SECTION>__<KEY>")
        section, key = parts
        table = out.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(name, f"{section} is not a section")
        table[key] = value
    return out


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> Config:
    """Load and validate the configuration.

    ``path`` None means ``$GROUPWARE_CONFIG`` if set, else built-in defaults (the
    embedded setup needs no file). ``data_dir`` (from ``--data-dir``) wins over both.
    """
    env = os.environ if env is None else env
    if path is None and env.get(ENV_CONFIG_FILE):
        path = Path(env[ENV_CONFIG_FILE])
    raw: dict[str, Any] = read_toml(path) if path is not None else {}
    raw = apply_env(raw, env)
    if data_dir is not None:
        raw.setdefault("server", {})["data_dir"] = str(data_dir)
    return build_section(Config, raw, "")
