"""The mail queue in the database: outbound delivery, local retries, bounces.

Everything accepted but not yet delivered is a row here, committed before the 250 that
acknowledges it, so nothing acknowledged is lost when the process dies. A runner in
every serving process claims due recipients with a lease (``locked_until``), delivers
them — to the smarthost of ``[queue]``, to the domain's MX hosts, or into a local
mailbox — and records the outcome in one transaction together with any DSN it causes
(RFC 3461: failures and delays by default, successes on NOTIFY=SUCCESS). Temporary
failures are retried on ``retry_schedule`` until ``expire_after``; a message leaves the
queue once every recipient has a final outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from groupware.errors import GroupwareError, InvalidInput, NotFound
from groupware.handlers.delivery import (
    Envelope,
    EnvelopeRecipient,
    SessionInfo,
    message_id_of,
)
from groupware.handlers.queue_dsn import RecipientStatus, build_dsn, status_of
from groupware.handlers.queue_smtp import Outcome, OutRecipient, send
from storage.db.tables_queue import mail_queue, mail_queue_recipients

if TYPE_CHECKING:
    from groupware.handlers.delivery import DeliveryHandler
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)

QUEUED = "queued"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class Claimed:
    id: int
    queue_id: int
    address: str
    domain: str
    local: bool
    notify: str | None
    orcpt: str | None
    attempts: int
    delay_notified: bool


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    created_at: float
    sender: str
    origin: str
    envid: str | None
    ret: str | None
    smtputf8: bool
    data: bytes


class QueueHandler:
    """Enqueues messages and runs deliveries; one per process."""

    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self.config = server.config.queue
        self.hostname = server.config.server.hostname
        self.helo = self.config.helo_name or self.hostname
        self._db = server.get_database()
        self._clock = server.clock
        self._executor = ThreadPoolExecutor(max_workers=self.config.concurrency,
                                            thread_name_prefix="smtp-out")
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._busy = 0
        self._inflight: set[int] = set()

    @property
    def delivery(self) -> DeliveryHandler:
        return self._server.get_delivery()

    # -- enqueueing ---------------------------------------------------------------------

    async def enqueue(self, sender: str, recipients: Sequence[EnvelopeRecipient], data: bytes,
                      *, origin: str, envid: str | None = None, ret: str | None = None,
                      smtputf8: bool = False, user_id: int | None = None,
                      local: bool | None = None) -> int:
        """Commit a message for delivery to ``recipients``; returns its queue id.

        ``local`` None decides per recipient by domain (ours: stored here, else sent on).
        """
        if not recipients:
            raise InvalidInput("no recipients")
        domains = await self.delivery.local_domains() if local is None else frozenset()
        now = self._clock.time()
        message_id = (message_id_of(data) or "")[:998]
        rows = []
        for r in recipients:
            domain = r.address.rpartition("@")[2].lower()
            rows.append({
                "address": r.address, "domain": domain,
                "local": local if local is not None else domain in domains,
                "notify": ",".join(sorted(r.notify)) if r.notify else None,
                "orcpt": r.orcpt, "status": QUEUED, "attempts": 0,
                "next_attempt_at": now, "locked_until": 0.0,
            })

        def txn(conn: sa.Connection) -> int:
            qid = conn.execute(sa.insert(mail_queue).values(
                created_at=now, sender=sender, origin=origin, user_id=user_id, envid=envid,
                ret=ret, smtputf8=smtputf8, message_id=message_id, size=len(data),
                data=data).returning(mail_queue.c.id)).scalar_one()
            conn.execute(sa.insert(mail_queue_recipients),
                         [{**row, "queue_id": qid} for row in rows])
            return int(qid)

        qid = await self._db.run_interaction("queue_enqueue", txn)
        logger.info("queued: id=%d from=<%s> to=%s size=%d origin=%s", qid, sender,
                    ",".join(f"<{r['address']}>" for r in rows), len(data), origin)
        self.kick()
        return qid

    async def bounce_now(self, envelope: Envelope, data: bytes,
                         failures: Sequence[tuple[EnvelopeRecipient, str]]) -> None:
        """Report recipients that failed at once (after a 250 to the client)."""
        if not envelope.sender:
            return
        now = self._clock.time()
        statuses = [RecipientStatus(r.address, "failed", status_of(reason, "5.0.0"), reason,
                                    r.orcpt, last_attempt=now)
                    for r, reason in failures if not (r.notify and "NEVER" in r.notify)
                    and (r.notify is None or "FAILURE" in r.notify)]
        if not statuses:
            return
        dsn = build_dsn(hostname=self.hostname, original_sender=envelope.sender,
                        original=data, arrival=now, now=now, recipients=statuses,
                        envid=envelope.envid, ret=envelope.ret)
        await self.enqueue("", [EnvelopeRecipient(envelope.sender, frozenset({"NEVER"}))],
                           dsn, origin="dsn")

    # -- the runner ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the runner on the reactor's loop (idempotent)."""
        if self._task is None and not self._closing:
            self._task = asyncio.ensure_future(self._run())

    def kick(self) -> None:
        """Look for due work now instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    @property
    def busy(self) -> bool:
        return self._busy > 0

    async def _run(self) -> None:
        self._wake = asyncio.Event()
        logger.info("queue runner started (%s)", f"smarthost {self.config.relay_host}:"
                    f"{self.config.relay_port}" if self.config.relay_host else "direct MX")
        slots = asyncio.Semaphore(self.config.concurrency)
        running: set[asyncio.Task[None]] = set()
        while not self._closing:
            self._wake.clear()
            try:
                claimed = await self.claim(limit=max(16, self.config.concurrency * 8))
            except Exception as exc:
                logger.warning("queue: cannot read the queue: %s", exc)
                claimed = []
            groups: dict[tuple[int, str], list[Claimed]] = defaultdict(list)
            for c in claimed:
                route = "local" if c.local else ((self.config.relay_host and "relay") or c.domain)
                groups[(c.queue_id, route)].append(c)
            for (qid, route), items in groups.items():
                await slots.acquire()
                task = asyncio.ensure_future(self._attempt(qid, route, items))
                running.add(task)

                def done(t: asyncio.Task[None]) -> None:
                    running.discard(t)
                    slots.release()

                task.add_done_callback(done)
            if claimed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
        for task in list(running):
            task.cancel()

    async def claim(self, *, limit: int) -> list[Claimed]:
        now = self._clock.time()
        until = now + self.config.lease
        r = mail_queue_recipients.c

        def txn(conn: sa.Connection) -> list[Claimed]:
            rows = conn.execute(sa.select(mail_queue_recipients).where(
                r.status == QUEUED, r.next_attempt_at <= now, r.locked_until <= now)
                .order_by(r.next_attempt_at, r.id).limit(limit)).all()
            out = []
            for row in rows:
                got = conn.execute(sa.update(mail_queue_recipients).where(
                    r.id == row.id, r.locked_until <= now, r.status == QUEUED)
                    .values(locked_until=until)).rowcount
                if got == 1:
                    out.append(Claimed(int(row.id), int(row.queue_id), row.address, row.domain,
                                       bool(row.local), row.notify, row.orcpt,
                                       int(row.attempts), bool(row.delay_notified)))
            return out

        return await self._db.run_interaction("queue_claim", txn)

    async def _load(self, qid: int) -> QueuedMessage | None:
        def txn(conn: sa.Connection) -> QueuedMessage | None:
            row = conn.execute(sa.select(mail_queue).where(mail_queue.c.id == qid)).first()
            if row is None:
                return None
            return QueuedMessage(int(row.id), float(row.created_at), row.sender, row.origin,
                                 row.envid, row.ret, bool(row.smtputf8), bytes(row.data))

        return await self._db.run_interaction("queue_load", txn)

    async def _attempt(self, qid: int, route: str, items: list[Claimed]) -> None:
        self._busy += 1
        ids = {c.id for c in items}
        self._inflight |= ids
        try:
            msg = await self._load(qid)
            if msg is None:
                return
            if route == "local":
                outcomes = await self._deliver_local(msg, items)
            else:
                loop = asyncio.get_running_loop()
                rcpts = [OutRecipient(c.address, c.notify, c.orcpt) for c in items]
                outcomes = await loop.run_in_executor(
                    self._executor, lambda: send(
                        self.config, self.helo, sender=msg.sender, recipients=rcpts,
                        data=msg.data, domain=items[0].domain, smtputf8=msg.smtputf8,
                        envid=msg.envid, ret=msg.ret))
            await self._record(msg, items, outcomes, route)
        except Exception:
            logger.exception("queue: attempt for message %d failed", qid)
        finally:
            self._busy -= 1
            self._inflight -= ids

    async def _deliver_local(self, msg: QueuedMessage, items: list[Claimed]) -> list[Outcome]:
        delivery = self.delivery
        session = SessionInfo("queue", "127.0.0.1", f"Q{msg.id}")
        envelope = Envelope(msg.sender, envid=msg.envid, ret=msg.ret, smtputf8=msg.smtputf8)
        outcomes: list[Outcome | None] = [None] * len(items)
        targets = []
        where = []
        for i, c in enumerate(items):
            notify = frozenset(c.notify.split(",")) if c.notify else None
            try:
                targets.append(await delivery.resolve(EnvelopeRecipient(c.address, notify,
                                                                        c.orcpt)))
                where.append(i)
            except GroupwareError as exc:
                outcomes[i] = _outcome_of(exc)
        if targets:
            results = await delivery.deliver(session, envelope, targets, msg.data,
                                             add_received=False)
            for i, err in zip(where, results, strict=True):
                outcomes[i] = (Outcome(250, "250 2.0.0 delivered", self.hostname)
                               if err is None else _outcome_of(err))
        return [o if o is not None else Outcome(0, "451 4.3.0 not attempted") for o in outcomes]

    def _retry_delay(self, attempts: int) -> float:
        schedule = self.config.retry_schedule
        return float(schedule[min(attempts - 1, len(schedule) - 1)])

    async def _record(self, msg: QueuedMessage, items: list[Claimed],
                      outcomes: list[Outcome], route: str) -> None:
        now = self._clock.time()
        expired = now - msg.created_at >= self.config.expire_after
        updates: list[dict[str, Any]] = []
        failed: list[RecipientStatus] = []
        delayed: list[RecipientStatus] = []
        succeeded: list[RecipientStatus] = []
        for c, out in zip(items, outcomes, strict=True):
            notify = set(c.notify.split(",")) if c.notify else None
            base = {"id": c.id, "attempts": c.attempts + 1, "last_attempt_at": now,
                    "locked_until": 0.0, "last_error": "" if out.delivered else out.text,
                    "remote_mta": out.remote_mta}
            logger.info("queue: id=%d to=<%s> via=%s: %s", msg.id, c.address, route, out.text)
            if out.delivered:
                updates.append({**base, "status": DELIVERED})
                if notify and "SUCCESS" in notify and not out.dsn_passed:
                    action = "delivered" if c.local else "relayed"
                    succeeded.append(RecipientStatus(c.address, action, "2.0.0", out.text,
                                                     c.orcpt, out.remote_mta, now))
            elif out.permanent or expired:
                status = status_of(out.text, "5.0.0") if out.permanent else "4.4.7"
                text = out.text if out.permanent else f"{out.text} (gave up after " \
                    f"{int(now - msg.created_at)} s)"
                updates.append({**base, "status": FAILED})
                if notify is None or "FAILURE" in notify:
                    failed.append(RecipientStatus(c.address, "failed", status, text, c.orcpt,
                                                  out.remote_mta, now))
            else:
                row = {**base, "status": QUEUED,
                       "next_attempt_at": now + self._retry_delay(c.attempts + 1)}
                warn = self.config.delay_warning_after
                if (warn > 0 and not c.delay_notified and now - msg.created_at >= warn
                        and (notify is None or "DELAY" in notify)):
                    row["delay_notified"] = True
                    delayed.append(RecipientStatus(
                        c.address, "delayed", status_of(out.text, "4.0.0"), out.text, c.orcpt,
                        out.remote_mta, now, msg.created_at + self.config.expire_after))
                updates.append(row)
        dsns: list[bytes] = []
        if msg.sender:
            for group in (failed, delayed, succeeded):
                if group:
                    dsns.append(build_dsn(hostname=self.hostname, original_sender=msg.sender,
                                          original=msg.data, arrival=msg.created_at, now=now,
                                          recipients=group, envid=msg.envid, ret=msg.ret))
        sender_local = bool(msg.sender) and await self.delivery.is_local(msg.sender)
        sender_domain = msg.sender.rpartition("@")[2].lower()
        r = mail_queue_recipients.c

        def txn(conn: sa.Connection) -> bool:
            for row in updates:
                values = {k: v for k, v in row.items() if k != "id"}
                conn.execute(sa.update(mail_queue_recipients).where(r.id == row["id"])
                             .values(**values))
            for dsn in dsns:
                dqid = conn.execute(sa.insert(mail_queue).values(
                    created_at=now, sender="", origin="dsn", size=len(dsn), data=dsn,
                    message_id=message_id_of(dsn) or "").returning(mail_queue.c.id)).scalar_one()
                conn.execute(sa.insert(mail_queue_recipients).values(
                    queue_id=dqid, address=msg.sender, domain=sender_domain,
                    local=sender_local, notify="NEVER", status=QUEUED, attempts=0,
                    next_attempt_at=now, locked_until=0.0))
            left = conn.execute(sa.select(sa.func.count()).select_from(mail_queue_recipients)
                                .where(r.queue_id == msg.id, r.status == QUEUED)).scalar_one()
            if not left:
                conn.execute(sa.delete(mail_queue_recipients).where(r.queue_id == msg.id))
                conn.execute(sa.delete(mail_queue).where(mail_queue.c.id == msg.id))
            return not left

        done = await self._db.run_interaction("queue_record", txn)
        if dsns:
            logger.info("queue: id=%d: %d DSN(s) to <%s>", msg.id, len(dsns), msg.sender)
            self.kick()
        if done:
            logger.debug("queue: id=%d finished", msg.id)

    # -- administration (the CLI) -------------------------------------------------------

    async def list_entries(self) -> list[dict[str, Any]]:
        q, r = mail_queue.c, mail_queue_recipients.c

        def txn(conn: sa.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(
                q.id, q.created_at, q.sender, q.origin, q.size, q.message_id, r.address,
                r.status, r.attempts, r.next_attempt_at, r.last_error, r.local)
                .join(mail_queue_recipients, r.queue_id == q.id).order_by(q.id, r.id)).all()
            out: dict[int, dict[str, Any]] = {}
            for row in rows:
                entry = out.setdefault(int(row.id), {
                    "id": int(row.id), "created_at": float(row.created_at),
                    "sender": row.sender, "origin": row.origin, "size": int(row.size),
                    "message_id": row.message_id, "recipients": []})
                entry["recipients"].append({
                    "address": row.address, "status": row.status, "local": bool(row.local),
                    "attempts": int(row.attempts),
                    "next_attempt_at": float(row.next_attempt_at),
                    "last_error": row.last_error})
            return list(out.values())

        return await self._db.run_interaction("queue_list", txn)

    async def retry(self, ids: Sequence[int] | None) -> int:
        """Make queued recipients due now (all when ``ids`` is None)."""
        r = mail_queue_recipients.c

        def txn(conn: sa.Connection) -> int:
            stmt = sa.update(mail_queue_recipients).where(r.status == QUEUED)
            if ids is not None:
                stmt = stmt.where(r.queue_id.in_(list(ids)))
            return int(conn.execute(stmt.values(next_attempt_at=0.0, locked_until=0.0))
                       .rowcount or 0)

        n = await self._db.run_interaction("queue_retry", txn)
        self.kick()
        return n

    async def delete(self, ids: Sequence[int]) -> int:
        """Drop messages from the queue without a bounce."""
        r = mail_queue_recipients.c

        def txn(conn: sa.Connection) -> int:
            conn.execute(sa.delete(mail_queue_recipients).where(r.queue_id.in_(list(ids))))
            return int(conn.execute(sa.delete(mail_queue).where(mail_queue.c.id.in_(list(ids))))
                       .rowcount or 0)

        n = await self._db.run_interaction("queue_delete", txn)
        if n < len(set(ids)):
            missing = len(set(ids)) - n
            if n == 0:
                raise NotFound(f"no queued message with id {', '.join(map(str, ids))}")
            logger.info("queue delete: %d id(s) were not queued", missing)
        return n

    def close(self) -> None:
        """Stop the runner; recipients it was still delivering are handed back at once
        (their lease cleared) instead of waiting ``lease`` seconds after a restart."""
        self._closing = True
        self.kick()
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._inflight:
            r = mail_queue_recipients.c
            try:
                with self._db.engine.begin() as conn:
                    conn.execute(sa.update(mail_queue_recipients).where(
                        r.id.in_(sorted(self._inflight)), r.status == QUEUED)
                        .values(locked_until=0.0))
                logger.info("queue: %d unfinished deliveries handed back",
                            len(self._inflight))
            except Exception as exc:  # they are retried when the lease ends
                logger.warning("queue: could not hand back unfinished deliveries: %s", exc)
            self._inflight.clear()


def _outcome_of(exc: GroupwareError) -> Outcome:
    from groupware.errors import Code

    table = {
        Code.NOT_FOUND: (550, "5.1.1"), Code.DENIED: (550, "5.7.1"),
        Code.INVALID: (554, "5.6.0"), Code.TOO_BIG: (552, "5.3.4"),
        Code.FEATURE_DISABLED: (550, "5.7.1"),
    }
    if exc.code is Code.QUOTA:
        code, status = (452, "4.2.2") if getattr(exc, "transient", False) else (552, "5.2.2")
    else:
        code, status = table.get(exc.code, (451, "4.3.0"))
    return Outcome(code, f"{code} {status} {exc.message}")


def new_session_id() -> str:
    return secrets.token_hex(6).upper()
