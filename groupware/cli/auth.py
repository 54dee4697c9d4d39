"""``groupware auth ...``: integration adapters that let other servers authenticate
against the groupware's users, plus ``auth test`` and ``auth token`` for admins.

- ``pam-exec``: for ``pam_exec.so expose_authtok`` (password on stdin, ``PAM_USER`` /
  ``PAM_SERVICE`` / ``PAM_TYPE`` / ``PAM_RHOST`` in the environment). Exit 0 = accept.
- ``checkpassword``: Dovecot's ``passdb checkpassword`` (qmail interface: user and
  password NUL-terminated on fd 3; on success exec the reply program with ``USER`` set;
  exit 1 refused, 3 unknown user, 111 temporary failure). Honours ``SERVICE`` and
  ``TCPREMOTEIP``.
- ``ejabberd-extauth``: ejabberd's framed protocol on stdin/stdout (2-byte big-endian
  length + ``cmd:args``; answers ``00 02 00 01`` / ``00 02 00 00``). Only frames ever
  reach stdout; logs go to stderr.

Every refusal, including "the directory is down", is a refusal: these helpers fail
closed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import struct
import sys
from typing import Any, BinaryIO

from groupware.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from groupware.cli.common import command_parser, config_from_args

logger = logging.getLogger(__name__)

# PAM service names -> the feature they mean (``--service`` overrides).
PAM_SERVICES = {
    "smtp": "smtp", "smtpd": "smtp", "submission": "smtp", "postfix": "smtp", "exim": "smtp",
    "imap": "imap", "imaps": "imap", "dovecot": "imap", "pop3": "pop3", "pop": "pop3",
    "pop3s": "pop3", "xmpp": "chat", "ejabberd": "chat", "prosody": "chat",
    "caldav": "dav", "carddav": "dav", "webdav": "dav",
}
EXIT_UNKNOWN_USER = 3
EXIT_TEMPFAIL = 111
MAX_FRAME = 65535


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "auth", "authentication adapters for PAM, Dovecot, ejabberd; "
                       "test logins; issue tokens")
    asub = p.add_subparsers(dest="auth_command", metavar="ACTION")
    asub.required = True
    pam = command_parser(asub, "pam-exec", "helper for pam_exec.so expose_authtok")
    pam.add_argument("--service", help="feature to require (default: from PAM_SERVICE)")
    _log_options(pam)
    pam.set_defaults(func=run_pam_exec)
    cp = command_parser(asub, "checkpassword", "Dovecot passdb checkpassword program")
    cp.add_argument("--service", help="feature to require (default: from SERVICE)")
    cp.add_argument("reply", nargs=argparse.REMAINDER,
                    help="program to exec on success (checkpassword-reply)")
    _log_options(cp)
    cp.set_defaults(func=run_checkpassword)
    ej = command_parser(asub, "ejabberd-extauth", "ejabberd extauth program (auth_method: "
                        "external)")
    _log_options(ej)
    ej.set_defaults(func=run_ejabberd)
    t = command_parser(asub, "test", "check a login like a protocol would (password on "
                       "stdin)")
    t.add_argument("login")
    t.add_argument("--service", required=True, help="imap pop3 smtp mobile outlook chat dav")
    t.add_argument("--peer", help="source address to account failures to")
    t.set_defaults(func=run_test)
    tok = command_parser(asub, "token", "issue a short-lived login token for a user")
    tok.add_argument("login")
    tok.add_argument("--service", help="restrict the token to one service")
    tok.add_argument("--lifetime", type=int, help="seconds (default: [auth] token_lifetime)")
    tok.set_defaults(func=run_token)


def _log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--syslog", action="store_true",
                   help="log to syslog (facility auth) instead of stderr")


def _setup(args: argparse.Namespace) -> Any:
    """Config, logging (never to stdout) and a server with the auth core."""
    from groupware.clock import Clock
    from groupware.logs import setup_logging
    from groupware.server import GroupwareServer

    config = config_from_args(args)
    setup_logging(config.server.log_level, config.server.log_format.value, stream=sys.stderr)
    if getattr(args, "syslog", False):
        import logging.handlers

        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        handler = logging.handlers.SysLogHandler(
            "/dev/log", facility=logging.handlers.SysLogHandler.LOG_AUTH)
        handler.setFormatter(logging.Formatter("groupware-auth: %(message)s"))
        root.addHandler(handler)
    return GroupwareServer(config, Clock())


def _feature(name: str | None, mapping: dict[str, str] | None = None) -> Any:
    from groupware.types import Feature

    if not name:
        raise CliError("no service given (--service) and none in the environment", EXIT_USAGE)
    value = (mapping or {}).get(name.lower(), name.lower())
    try:
        return Feature(value)
    except ValueError:
        raise CliError(f"unknown service {name!r}", EXIT_USAGE) from None


async def _check(server: Any, login: str, password: str, service: Any,
                 peer: str | None) -> int:
    """0 accepted, 1 refused, 111 directory/database trouble (still a refusal)."""
    from groupware.errors import GroupwareError, Unavailable

    try:
        await server.get_auth().authenticate(login, password, service=service, peer=peer)
        return EXIT_OK
    except Unavailable:
        return EXIT_TEMPFAIL
    except GroupwareError:
        return EXIT_FAILED
    except Exception:
        logger.exception("auth refused: login=%r reason=internal error", login[:80])
        return EXIT_TEMPFAIL
    finally:
        directory = server._components.get("get_directory")
        if directory is not None:
            await directory.close()


def _read_secret(stream: BinaryIO, limit: int = 4096) -> bytes:
    data = stream.read(limit + 1)
    return data[:limit + 1]


def run_pam_exec(args: argparse.Namespace) -> int:
    """pam_exec: PAM_TYPE auth -> check the password; account -> the user may use it."""
    from groupware.errors import GroupwareError

    server = _setup(args)
    try:
        login = os.environ.get("PAM_USER", "")
        pam_type = os.environ.get("PAM_TYPE", "auth")
        service = _feature(args.service or os.environ.get("PAM_SERVICE"), PAM_SERVICES)
        peer = os.environ.get("PAM_RHOST") or None
        if pam_type in ("open_session", "close_session"):
            return EXIT_OK
        if pam_type == "account":
            async def exists() -> bool:
                try:
                    return bool(await server.get_auth().user_exists(login, service=service))
                finally:
                    directory = server._components.get("get_directory")
                    if directory is not None:
                        await directory.close()
            try:
                ok = asyncio.run(exists())
            except GroupwareError as exc:
                logger.error("pam account check of %r refused: %s", login[:80], exc)
                return EXIT_FAILED
            if not ok:
                logger.warning("pam account check refused: login=%r service=%s", login[:80],
                               service.value)
            return EXIT_OK if ok else EXIT_FAILED
        if pam_type != "auth":
            logger.warning("pam_exec type %s is not supported; refusing", pam_type)
            return EXIT_FAILED
        raw = _read_secret(sys.stdin.buffer)
        # pam_exec writes the token followed by a NUL; a terminal user types a newline.
        raw = raw.split(b"\x00", 1)[0] if b"\x00" in raw else raw.removesuffix(b"\n")
        try:
            password = raw.decode("utf-8")
        except UnicodeDecodeError:
            logger.warning("auth refused: login=%r reason=password is not UTF-8", login[:80])
            return EXIT_FAILED
        status = asyncio.run(_check(server, login, password, service, peer))
        return EXIT_OK if status == EXIT_OK else EXIT_FAILED
    finally:
        server.close()


def run_checkpassword(args: argparse.Namespace) -> int:
    """Dovecot checkpassword: fd 3 carries ``user\\0password\\0[...]``."""
    server = _setup(args)
    try:
        try:
            with os.fdopen(3, "rb", closefd=True) as fd3:
                data = fd3.read(8192)
        except OSError as exc:
            logger.error("checkpassword: cannot read fd 3 (%s)", exc.strerror)
            return EXIT_USAGE
        parts = data.split(b"\x00")
        if len(parts) < 2:
            logger.error("checkpassword: malformed input on fd 3")
            return EXIT_USAGE
        try:
            login, password = parts[0].decode("utf-8"), parts[1].decode("utf-8")
        except UnicodeDecodeError:
            logger.warning("auth refused: reason=user or password is not UTF-8")
            return EXIT_FAILED
        service = _feature(args.service or os.environ.get("SERVICE"), PAM_SERVICES)
        peer = os.environ.get("TCPREMOTEIP") or None
        status = asyncio.run(_check(server, login, password, service, peer))
        if status != EXIT_OK:
            return status
        reply = [a for a in args.reply if a != "--"]
        if not reply:
            return EXIT_OK
        env = dict(os.environ)
        env["USER"] = login
        if env.get("AUTHORIZED") == "1":
            env["AUTHORIZED"] = "2"
        sys.stdout.flush()
        server.close()
        os.execvpe(reply[0], reply, env)  # noqa: S606 - the reply program Dovecot names
        return EXIT_TEMPFAIL  # not reached
    finally:
        server.close()


def run_ejabberd(args: argparse.Namespace) -> int:
    """Serve ejabberd's extauth frames until stdin closes."""
    server = _setup(args)
    loop = asyncio.new_event_loop()
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # Nothing but frames may reach ejabberd: anything printed by accident goes to stderr.
    sys.stdout = sys.stderr
    try:
        while True:
            header = _read_exact(stdin, 2)
            if header is None:
                return EXIT_OK
            (size,) = struct.unpack(">H", header)
            frame = _read_exact(stdin, size)
            if frame is None:
                return EXIT_OK
            ok = loop.run_until_complete(handle_extauth_frame(server, frame))
            stdout.write(b"\x00\x02\x00\x01" if ok else b"\x00\x02\x00\x00")
            stdout.flush()
    finally:
        directory = server._components.get("get_directory")
        if directory is not None:
            loop.run_until_complete(directory.close())
        loop.close()
        server.close()


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


async def handle_extauth_frame(server: Any, frame: bytes) -> bool:
    """One extauth request -> True/False. Never raises."""
    from groupware.errors import GroupwareError
    from groupware.types import Feature

    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        logger.warning("extauth: frame is not UTF-8; refused")
        return False
    command, _, rest = text.partition(":")
    xmpp_domains = server.config.auth.xmpp_domains
    try:
        if command == "auth":
            user, host, password = [*rest.split(":", 2), "", ""][:3]
            login = f"{user}@{xmpp_domains.get(host.lower(), host)}"
            await server.get_auth().authenticate(login, password, service=Feature.CHAT)
            return True
        if command == "isuser":
            user, _, host = rest.partition(":")
            login = f"{user}@{xmpp_domains.get(host.lower(), host)}"
            return bool(await server.get_auth().user_exists(login, service=Feature.CHAT))
        if command in ("setpass", "tryregister", "removeuser", "removeuser3"):
            logger.info("extauth: %s refused (accounts are managed by groupware)", command)
            return False
        logger.warning("extauth: unknown command %r refused", command[:40])
        return False
    except GroupwareError:
        return False  # already logged by the auth core
    except Exception:
        logger.exception("extauth: internal error on %s; refused", command[:40])
        return False


def run_test(args: argparse.Namespace) -> int:
    from groupware.errors import GroupwareError

    server = _setup(args)
    try:
        password = sys.stdin.readline().removesuffix("\n")

        async def go() -> Any:
            try:
                return await server.get_auth().authenticate(
                    args.login, password, service=_feature(args.service), peer=args.peer)
            finally:
                directory = server._components.get("get_directory")
                if directory is not None:
                    await directory.close()

        try:
            result = asyncio.run(go())
        except GroupwareError as exc:
            print(f"refused: {exc}")  # noqa: T201
            return EXIT_FAILED
        print(f"ok: {result.user.address} ({result.method})")  # noqa: T201
        return EXIT_OK
    finally:
        server.close()


def run_token(args: argparse.Namespace) -> int:
    from groupware.cli.dirtools import find_user, run

    async def go(server: Any) -> str:
        user = await find_user(server, args.login)
        service = _feature(args.service) if args.service else None
        return str(await server.get_auth().issue_token(user, service, args.lifetime))

    print(run(args, go))  # noqa: T201
    return EXIT_OK
