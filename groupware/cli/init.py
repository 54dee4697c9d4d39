"""``groupware init``: data dir, certificate, database schema, first domain and admin.

Idempotent: running it again changes nothing and says so. The generated admin password
is shown once and kept in ``<data_dir>/initial-admin-password`` (mode 0600) so that
``make run`` can point at it.
"""

from __future__ import annotations

import argparse
import os
import sys

from groupware.cli import EXIT_OK
from groupware.cli.common import command_parser, config_from_args, ensure_data_dir
from groupware.passwords import generate_password, hash_password
from groupware.server import GroupwareServer


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "init", "create data dir, database, certificate and first admin",
                       "Prepare a new installation. Safe to run again: existing data is "
                       "left alone.")
    p.add_argument("--domain", help="first mail domain (default: [server] default_domain)")
    p.add_argument("--admin", default="admin",
                   help="local part of the administrator account (default: admin)")
    p.add_argument("--admin-password",
                   help="administrator password (default: generate one and show it)")
    p.add_argument("--quiet-if-done", action="store_true",
                   help="print nothing when the installation is already initialised")
    p.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    from directory import bootstrap
    from groupware.clock import Clock
    from storage.db import schema

    config = config_from_args(args)
    data_dir = ensure_data_dir(config)
    server = GroupwareServer(config, Clock())
    said: list[str] = []
    try:
        cert = server.get_certificate()
        if cert.generated:
            said.append(f"created a self-signed certificate in {cert.certificate.parent}")
        db = server.get_database()
        before, after = schema.upgrade(db)
        if before != after:
            said.append(f"database schema {before or 'empty'} -> {after} ({db!r})")
        domain = (args.domain or config.server.default_domain).lower()
        password = args.admin_password or generate_password()

        def _provision(conn: object) -> tuple[bool, str | None]:
            import sqlalchemy as sa

            assert isinstance(conn, sa.Connection)
            bootstrap.ensure_server_facts(conn)
            domain_id, created = bootstrap.ensure_domain(conn, domain)
            if created:
                said.append(f"created domain {domain}")
            admin = bootstrap.find_admin(conn)
            if admin is not None:
                return False, admin
            bootstrap.create_user(conn, domain_id, args.admin, display_name="Administrator",
                                  password_hash=hash_password(password), is_admin=True,
                                  organization=config.server.organization)
            return True, f"{args.admin}@{domain}"

        created_admin, admin_address = db.run_sync("init_provision", _provision)
    finally:
        server.close()

    if created_admin:
        pw_file = data_dir / "initial-admin-password"
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        said.append(f"created administrator {admin_address}")
        if not args.admin_password:
            said.append(f"  password: {password}   (also in {pw_file})")
    if said:
        for line in said:
            print(line)  # noqa: T201
    elif not args.quiet_if_done:
        print(f"already initialised: data in {data_dir}, administrator {admin_address}")  # noqa: T201
    sys.stdout.flush()
    return EXIT_OK
