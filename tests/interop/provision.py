"""A configured installation with users, provisioned through the real CLI, for the
adapter tests (pamtester, saslauthd, ejabberd, Dovecot-style checkpassword)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import GROUPWARE

PASSWORDS = {"alice": "Wonderland-ü1:colon", "bob": "builder-pw", "carol": "carol-pw"}


@dataclass
class Installation:
    config: Path
    log: Path

    def cli(self, *args: str, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GROUPWARE, "--config", str(self.config), *args], input=input,
                              capture_output=True, text=True, check=check, timeout=120)


def provision(tmp_path: Path, database_url: str, extra: str = "") -> Installation:
    config = tmp_path / "groupware.toml"
    config.write_text(f"""
[server]
data_dir = "{tmp_path / 'var'}"
default_domain = "example.test"
log_level = "INFO"

[database]
url = "{database_url}"

[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1
user_cache_ttl = 0
{extra}
""")
    inst = Installation(config, tmp_path / "helper.log")
    inst.cli("init", "--admin-password", "admin-pw")
    for user in ("alice", "bob", "carol"):
        inst.cli("user", "add", f"{user}@example.test", "--name", user.title(),
                 "--password-stdin", input=PASSWORDS[user] + "\n")
    inst.cli("user", "features", "bob", "--disable", "imap")
    inst.cli("user", "disable", "carol")
    return inst
