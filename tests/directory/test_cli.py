"""The admin CLI in-process (``groupware.cli.main``) against the test database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from groupware.cli import main


@pytest.fixture
def gw(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Any:
    cfg = tmp_path / "g.toml"
    cfg.write_text(f'[server]\ndata_dir = "{tmp_path}/var"\n[database]\nurl = "{database_url}"\n'
                   "[auth]\nargon2_time_cost = 1\nargon2_memory_cost = 1024\n"
                   "argon2_parallelism = 1\n")

    def run(*args: str, expect: int = 0) -> str:
        capsys.readouterr()
        status = main(["--config", str(cfg), *args])
        out = capsys.readouterr()
        assert status == expect, (args, out)
        return out.out + out.err

    run("init", "--admin-password", "admin-pw")
    return run


def test_domain_user_group_lifecycle(gw: Any, tmp_path: Path) -> None:
    gw("domain", "add", "Example.ORG")
    domains = json.loads(gw("domain", "list", "--json"))
    assert {d["name"] for d in domains} == {"example.org", "example.test"}
    gw("user", "add", "alice@example.test", "--name", "Alice L", "--alias", "al@example.org",
       "--password", "pw-ü", "--title", "Boss", "--quota", "100")
    shown = json.loads(gw("user", "show", "ALICE", "--json"))
    assert shown["aliases"] == ["al@example.org"] and shown["quota"] == 100 * 1024 * 1024
    assert shown["title"] == "Boss" and len(shown["features"]) == 7
    gw("user", "add", "room1@example.test", "--kind", "room", "--capacity", "8")
    gw("group", "add", "team@example.test", "--member", "alice@example.test")
    group = json.loads(gw("group", "show", "team@example.test", "--json"))
    assert group["members"] == ["alice@example.test"]
    gw("user", "features", "alice", "--disable", "imap,pop3")
    feats = json.loads(gw("user", "features", "alice", "--json"))
    assert feats["disabled"] == ["imap", "pop3"]
    assert "refused" not in gw("user", "disable", "alice")
    listed = json.loads(gw("user", "list", "--json"))
    alice = next(u for u in listed if u["address"] == "alice@example.test")
    assert alice["enabled"] is False
    gw("user", "enable", "alice")
    secret = gw("app-password", "add", "alice", "phone").split(": ")[-1].strip()
    assert len(secret) == 19
    assert json.loads(gw("app-password", "list", "alice", "--json"))[0]["name"] == "phone"
    gw("app-password", "revoke", "alice", "phone")
    assert "still has" in gw("domain", "remove", "example.org", expect=1)
    gw("user", "alias", "alice", "--remove", "al@example.org")
    gw("domain", "remove", "example.org")
    gw("user", "remove", "alice")
    assert "no user" in gw("user", "show", "alice", expect=1)


@pytest.mark.parametrize("args", [
    ("user", "add", "not-an-address", "--password", "x"),
    ("user", "add", ("a" * 70) + "@example.test", "--password", "x"),
    ("user", "add", "x@unknown.example", "--password", "x"),
    ("user", "add", "y@example.test", "--name", "a" * 300, "--password", "x"),
    ("user", "add", "z@example.test", "--password", "bad\x00pw"),
    ("domain", "add", "bad_domain.example"),
    ("user", "add", "admin@example.test", "--password", "x"),
])
def test_bad_input_is_one_line_and_exit_1(gw: Any, args: tuple[str, ...]) -> None:
    out = gw(*args, expect=1)
    assert out.startswith("groupware: ") and out.count("\n") == 1 and "Traceback" not in out


def test_import_csv_dry_run_then_real(gw: Any, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text("address,display_name,password,aliases,disabled_features,groups\n"
                   "u1@example.test,User One,pw1,u1a@example.test,imap,\n"
                   "u2@example.test,User Two,pw2,,,\n"
                   "bad address,Broken,pw,,,\n")
    out = gw("import", "csv", str(csv), "--dry-run", "--no-progress", expect=1)
    assert "line 4" in out and "dry run" in out
    assert "u1@example.test" not in gw("user", "list", "--json")
    gw("import", "csv", str(csv), "--no-progress", expect=1)
    users = {u["address"]: u for u in json.loads(gw("user", "list", "--json"))}
    assert users["u1@example.test"]["disabled_features"] == ["imap"]
    assert users["u1@example.test"]["aliases"] == ["u1a@example.test"]
    ldif = tmp_path / "in.ldif"
    ldif.write_text("dn: uid=u3,ou=people,dc=x\nobjectClass: inetOrgPerson\ncn: U Three\n"
                    "sn: Three\nmail: u3@example.test\nmailAlternateAddress: u3a@example.test\n"
                    "\ndn: cn=g,ou=groups,dc=x\nobjectClass: groupOfNames\ncn: g\n"
                    "mail: g@example.test\nmember: uid=u3,ou=people,dc=x\n")
    gw("import", "ldif", str(ldif), "--no-progress")
    group = json.loads(gw("group", "show", "g@example.test", "--json"))
    assert group["members"] == ["u3@example.test"]
