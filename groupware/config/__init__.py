"""Configuration: one TOML file read into typed, validated sections."""

from groupware.config.convert import as_plain
from groupware.config.loader import load_config
from groupware.config.sections import (
    Config,
    DatabaseConfig,
    ListenerConfig,
    Protocol,
    ServerConfig,
    TlsConfig,
    TlsMode,
)

__all__ = [
    "Config",
    "DatabaseConfig",
    "ListenerConfig",
    "Protocol",
    "ServerConfig",
    "TlsConfig",
    "TlsMode",
    "as_plain",
    "load_config",
]
