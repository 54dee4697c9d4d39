"""Configuration: defaults, TOML, environment overrides, and errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from groupware.config import Protocol, TlsMode, as_plain, load_config
from groupware.config.sections import DEFAULT_LISTENERS
from groupware.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_need_no_file() -> None:
    config = load_config(env={})
    assert config.data_dir == Path("var")
    assert config.database_url.startswith("sqlite:///")
    assert config.database_url.endswith("var/groupware.sqlite3")
    ports = {(lst.protocol, lst.port, lst.tls) for lst in config.listeners}
    assert (Protocol.HTTP, 8080, TlsMode.NONE) in ports
    assert (Protocol.HTTP, 8443, TlsMode.IMPLICIT) in ports
    # Only protocols this version ships are on by default.
    available = {(d.protocol, d.port) for d in DEFAULT_LISTENERS if d.available}
    assert {(lst.protocol, lst.port) for lst in config.listeners} == available


def test_shipped_sample_config_is_valid_and_documented() -> None:
    sample = REPO / "conf" / "groupware.toml"
    config = load_config(sample, env={})
    # The production sample uses the standard ports.
    ports = {lst.port for lst in config.listeners}
    assert 443 in ports
    text = sample.read_text()

    def check(table: dict[str, object], path: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict) and f"[{path}.{key}]" in text:
                check(value, f"{path}.{key}")  # a sub-table: its keys are documented
                continue
            assert re.search(rf"^#? ?{re.escape(key)} = ", text, re.M), \
                f"[{path}] {key} is not documented in the sample"

    for section, fields in as_plain(config).items():
        if isinstance(fields, dict):
            check(fields, section)


def test_toml_file_and_env_override(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text('[server]\nhostname = "mail.example.org"\nthread_pool_size = 4\n'
                 '[[listeners]]\nprotocol = "http"\nport = 9000\naddress = "127.0.0.1"\n')
    config = load_config(f, env={"GROUPWARE__SERVER__THREAD_POOL_SIZE": "12"})
    assert config.server.hostname == "mail.example.org"
    assert config.server.thread_pool_size == 12
    assert [(lst.protocol, lst.port) for lst in config.listeners] == [(Protocol.HTTP, 9000)]


def test_env_names_config_file(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text('[server]\norganization = "ACME"\n')
    assert load_config(env={"GROUPWARE_CONFIG": str(f)}).server.organization == "ACME"


def test_data_dir_override_wins(tmp_path: Path) -> None:
    config = load_config(env={"GROUPWARE__SERVER__DATA_DIR": "/elsewhere"}, data_dir=tmp_path)
    assert config.data_dir == tmp_path


@pytest.mark.parametrize(
    ("toml", "key", "why"),
    [
        ("[server]\nhostnme = 'x'\n", "server.hostnme", "unknown key"),
        ("[nonsense]\na = 1\n", "nonsense", "unknown key"),
        ("[server]\nthread_pool_size = 'ten'\n", "server.thread_pool_size", "expected an integer"),
        ("[server]\nthread_pool_size = 0\n", "server.thread_pool_size", "between 1 and 256"),
        ("[server]\nlog_format = 'xml'\n", "server.log_format", "expected one of"),
        ("[tls]\ncertificate = '/a.pem'\n", "tls.private_key", "go together"),
        ("[[listeners]]\nprotocol = 'gopher'\nport = 70\n", "listeners[0].protocol",
         "expected one of"),
        ("[[listeners]]\nprotocol = 'imap'\nport = 70000\n", "listeners[0].port",
         "not a TCP port"),
        ("[[listeners]]\nprotocol = 'http'\nport = 80\ntls = 'starttls'\n", "listeners[0].tls",
         "no STARTTLS"),
        ("[[listeners]]\nprotocol = 'http'\nport = 80\n[[listeners]]\nprotocol = 'http'\n"
         "port = 80\n", "listeners[1].port", "already used"),
        ("[server\n", "", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, toml: str, key: str, why: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(f, env={})
    assert str(info.value).startswith(key or str(f))
    assert why in str(info.value)


def test_bad_env_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^database.max_retries: expected an integer"):
        load_config(env={"GROUPWARE__DATABASE__MAX_RETRIES": "many"})
    with pytest.raises(ConfigError, match="GROUPWARE__SERVERHOSTNAME"):
        load_config(env={"GROUPWARE__SERVERHOSTNAME": "x"})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_secrets_are_masked() -> None:
    config = load_config(env={"GROUPWARE__DATABASE__URL": "postgresql+psycopg://u:hunter2@h/db"})
    plain = as_plain(config)
    assert "hunter2" not in repr(plain)
    assert plain["database"]["url"] == "postgresql+psycopg://u:***@h/db"
    assert as_plain(config, mask_secrets=False)["database"]["url"].endswith("hunter2@h/db")
