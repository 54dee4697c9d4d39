"""Directory and auth benchmarks: ANR over 10,000 users (SQL on SQLite and, when
GROUPWARE_BENCH_PG is set, PostgreSQL; slapd) and warm-cache repeated logins.

Run: ``python -m bench.bench_directory [--users 10000] [--queries 500]``.
Targets: ANR p95 < 20 ms (sql), < 50 ms (slapd); logins > 2,000/s with a warm cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
         "Xena", "Yusuf", "Zoe", "Anna", "Bert", "Chloe", "Dmitri", "Elif", "Farid", "Gita"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
        "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
        "Hall", "Wood", "Jackson", "Clarke", "Müller", "Schmidt", "Rossi", "Dubois", "Novak"]


def people(n: int) -> list[tuple[str, str, str]]:
    rng = random.Random(42)
    return [(rng.choice(FIRST), rng.choice(LAST) + (str(i % 97) if i % 3 else ""),
             f"user{i:05d}") for i in range(n)]


def queries(n: int) -> list[str]:
    rng = random.Random(7)
    pool = FIRST + LAST
    return [rng.choice(pool)[: rng.randint(2, 5)] for _ in range(n)]


def report(name: str, samples: list[float]) -> None:
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1] * 1000
    print(f"{name:28s} n={len(samples):5d}  p50={statistics.median(samples) * 1000:6.2f} ms"
          f"  p95={p95:6.2f} ms  max={samples[-1] * 1000:6.2f} ms")


async def anr_bench(directory: Any, qs: list[str]) -> list[float]:
    out = []
    for q in qs:
        t0 = time.perf_counter()
        await directory.anr(q, limit=50)
        out.append(time.perf_counter() - t0)
    return out


def sql_setup(url: str, n: int) -> Any:
    from directory import sql
    from storage.db import Database, schema

    db = Database(url, pool_size=8)
    schema.upgrade(db)
    settings = sql.SqlSettings()

    def txn(conn: Any) -> None:
        sql.add_domain_txn(conn, "example.test")
        for first, last, uid in people(n):
            sql.add_user_txn(conn, settings, f"{uid}@example.test",
                             display_name=f"{first} {last}",
                             attrs={"given_name": first, "surname": last})

    db.run_sync("bench_populate", txn)
    return db


async def login_bench(db: Any, seconds: float = 3.0, concurrency: int = 16,
                      user_cache_ttl: float = 0.0) -> float:
    from directory.credentials import CredentialStore
    from directory.sql import SqlDirectory
    from groupware.clock import Clock
    from groupware.config.sections import AuthConfig
    from groupware.handlers.auth import AuthHandler

    directory = SqlDirectory(db)
    auth = AuthHandler(directory, CredentialStore(db), AuthConfig(user_cache_ttl=user_cache_ttl),
                       Clock())
    user = await directory.resolve_login("user00001")
    await auth.set_password(user, "bench-password")
    await auth.authenticate("user00001", "bench-password", service="imap")  # warm the cache
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            result = await auth.authenticate("user00001", "bench-password", service="imap",
                                             peer="192.0.2.1")
            assert result.method == "cache"
            count += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = count / (time.perf_counter() - t0)
    auth.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-ldap", action="store_true")
    parser.add_argument("--no-sql", action="store_true")
    args = parser.parse_args()
    qs = queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        urls = [] if args.no_sql else [("sql (SQLite)", f"sqlite:///{tmp}/bench.sqlite3")]
        if os.environ.get("GROUPWARE_BENCH_PG"):
            urls.append(("sql (PostgreSQL)", os.environ["GROUPWARE_BENCH_PG"]))
        for name, url in urls:
            if url.startswith("postgresql"):
                import sqlalchemy as sa

                from storage.db import Database

                d = Database(url, pool_size=1)
                with d.engine.begin() as c:
                    c.execute(sa.text("DROP SCHEMA public CASCADE"))
                    c.execute(sa.text("CREATE SCHEMA public"))
                d.close()
            t0 = time.perf_counter()
            db = sql_setup(url, args.users)
            print(f"{name}: {args.users} users loaded in {time.perf_counter() - t0:.1f} s")
            from directory.sql import SqlDirectory

            asyncio.run(anr_bench(SqlDirectory(db), qs[:20]))  # warm up
            report(f"ANR {name}", asyncio.run(anr_bench(SqlDirectory(db), qs)))
            for ttl in (0.0, 2.0):
                rate = asyncio.run(login_bench(db, user_cache_ttl=ttl))
                print(f"logins, warm cache, user_cache_ttl={ttl:g} {name}: {rate:,.0f}/s")
            db.close()
        if not args.no_ldap:
            ldap_bench(Path(tmp), args.users, qs)


def ldap_bench(tmp: Path, n: int, qs: list[str]) -> None:
    from directory.ldap import LdapDirectory, LdapSettings
    from groupware.config.sections import LdapConfig
    from storage.db import Database, schema
    from tests.directory.slapd import SERVICE_DN, SERVICE_PW, SUFFIX, Slapd

    entries = []
    for first, last, uid in people(n):
        entries.append(f"dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\n"
                       f"uid: {uid}\ncn: {first} {last}\ndisplayName: {first} {last}\n"
                       f"givenName: {first}\nsn: {last}\nmail: {uid}@example.test\n")
    slapd = Slapd(tmp / "slapd")
    t0 = time.perf_counter()
    slapd.setup("\n".join(entries))
    slapd.start()
    print(f"slapd: {n} users loaded in {time.perf_counter() - t0:.1f} s")
    db = Database(f"sqlite:///{tmp}/ldap-shadow.sqlite3", pool_size=4)
    schema.upgrade(db)
    try:
        cfg = LdapConfig(uri=[slapd.uri], base_dn=SUFFIX, bind_dn=SERVICE_DN,
                         bind_password=SERVICE_PW)
        directory = LdapDirectory(LdapSettings.from_config(cfg), db)
        asyncio.run(anr_bench(directory, qs))  # first pass creates the shadow rows
        report("ANR ldap (slapd)", asyncio.run(anr_bench(directory, qs)))
        directory.close_sync()
    finally:
        slapd.stop()
        db.close()


if __name__ == "__main__":
    main()
