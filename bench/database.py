"""The benchmark's own PostgreSQL database: created beside DATABASE_URL's, seeded with COPY."""

import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import psycopg

# Tables emptied between scenarios; users go too, so each scenario seeds its own buyers.
TABLES = [
    "ticketing_auditentry",
    "ticketing_ticket",
    "ticketing_order",
    "ticketing_ticketrequest",
    "ticketing_queuecounter",
    "ticketing_tickettypecounter",
    "ticketing_outboxemail",
    "events_tickettype",
    "events_event",
    "accounts_user",
    "django_q_ormq",
    "django_q_task",
]


class NotPostgres(SystemExit):
    """DATABASE_URL is missing or not PostgreSQL."""


def bench_database_url(url: str) -> str:
    """The scratch database beside DATABASE_URL's: `<name>_bench`, so DATABASE_URL's own is never touched."""
    if not url or not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise NotPostgres(
            "make bench measures PostgreSQL, the production database; SQLite serializes every write "
            "and would measure nothing useful.\n"
            "Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventtix make bench"
        )
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "eventtix"
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _maintenance_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres", scheme="postgresql")), parts.path.lstrip("/")


def recreate_database(url: str) -> None:
    """Drop and create the benchmark database (never DATABASE_URL's own, see bench_database_url)."""
    admin_url, name = _maintenance_url(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    admin_url, name = _maintenance_url(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def conninfo() -> str:
    """A libpq connection string for Django's default database (the test database under pytest)."""
    from django.db import connection

    s = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=s["NAME"],
        user=s.get("USER") or None,
        password=s.get("PASSWORD") or None,
        host=s.get("HOST") or None,
        port=str(s["PORT"]) if s.get("PORT") else None,
    )


def reset() -> None:
    """Empty every table a scenario writes, restart their ids, and start a new CSV log."""
    from django.conf import settings
    from django.core.cache import cache

    # A server or cluster left running between runs may still be finishing a request.
    for attempt in range(10):
        try:
            with psycopg.connect(conninfo(), autocommit=True) as conn:
                conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            break
        except psycopg.errors.DeadlockDetected:
            if attempt == 9:
                raise
            time.sleep(0.5)
    # The log's recovery compares ids with its tail; ids start again from 1.
    settings.TRANSACTIONS_CSV.unlink(missing_ok=True)
    # Wake-up keys and throttle counters name ids that start again too.
    if settings.REDIS_URL:
        # Only the benchmark's own keys and task queue: the Redis database may be shared.
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        for pattern in (f"{prefix}:*", f"django_q:{settings.Q_CLUSTER['name']}:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
    else:
        cache.clear()


@dataclass
class Seeded:
    first_user: int
    event_ids: list[int]
    type_ids: list[int]
    requests: int
    tickets: int
    users: int


# Several ticket types per event, served by priority: (name, price, priority).
TYPES = [("VIP", "150.00", 10), ("Balcony", "80.00", 5), ("Regular", "50.00", 0)]


def seed_queue(
    *,
    requests: int,
    events: int = 2,
    users: int | None = None,
    capacity: int | None = None,
    opens_in: timedelta = timedelta(minutes=-5),
    seed=1,
    quantities: list[int] | None = None,
) -> Seeded:
    """Queue `requests` requests of 1 to 4 tickets over `events` open events with three types each.

    Every buyer has one request per event, as in a real on-sale (`users` adds buyers with none
    yet). Each type's capacity is its demand, so the queue sells out exactly with no rejection,
    unless `capacity` is given. Rows are written with COPY: this measures serving a queue, not
    filling one. `quantities` fixes each request's quantity (and their number) instead of 1 to 4 at
    random: the door's figures seed an exact number of tickets this way.
    """
    from django.utils import timezone

    from events.models import Event, TicketType

    rng = random.Random(seed)
    now_dt = timezone.now()
    if quantities is not None:
        requests = len(quantities)
    users = max(users or 0, -(-requests // events))
    event_objs = [
        Event.objects.create(
            name=f"Bench event {n}",
            slug=f"bench-{secrets.token_hex(6)}",
            starts_at=now_dt + timedelta(days=30),
            sale_opens_at=now_dt + opens_in,
            max_tickets_per_user=10,
        )
        for n in range(events)
    ]
    types = [
        TicketType.objects.create(
            event=e, name=name, price=Decimal(price), capacity=0, priority=prio, max_per_request=4
        )
        for e in event_objs
        for name, price, prio in TYPES
    ]
    rows, demand = [], {t.pk: 0 for t in types}
    # Places are numbered per (event, priority) in arrival order, and the counters match them.
    arrived, queued = Counter(), Counter()
    prices = {t.pk: t.price for t in types}
    with psycopg.connect(conninfo()) as conn:
        first_user = _copy_users(conn, users, seed)
        for i in range(requests):
            event = event_objs[i % events]
            t = rng.choice(types[(i % events) * len(TYPES) : (i % events + 1) * len(TYPES)])
            quantity = rng.randint(1, 4) if quantities is None else quantities[i]
            demand[t.pk] += quantity
            user_id = first_user + i // events
            arrived[(event.pk, t.priority)] += 1
            queued[(t.pk, event.pk)] += 1
            seq = arrived[(event.pk, t.priority)]
            rows.append((user_id, event.pk, t.pk, t.priority, quantity, prices[t.pk], seq, now_dt))
        with conn.cursor() as cur:
            with cur.copy(
                "COPY ticketing_ticketrequest (user_id, event_id, ticket_type_id, priority, quantity,"
                " unit_price, seq, created_at, status, reason, wait_if_sold_out, skipped) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row((*row, "queued", "", False, False))
            cur.executemany(
                "INSERT INTO ticketing_queuecounter (event_id, priority, arrived, decided, skipped)"
                " VALUES (%s, %s, %s, 0, 0)",
                [(event_id, priority, n) for (event_id, priority), n in arrived.items()],
            )
            # The ledger's per-type counters, as the enqueues would have left them.
            cur.executemany(
                "INSERT INTO ticketing_tickettypecounter"
                " (ticket_type_id, event_id, queued, waiting, checked_in, cancelled)"
                " VALUES (%s, %s, %s, 0, 0, 0)",
                [(type_id, event_id, n) for (type_id, event_id), n in queued.items()],
            )
            for pk, n in demand.items():
                cur.execute("UPDATE events_tickettype SET capacity = %s WHERE id = %s", (capacity or n, pk))
        conn.commit()
        conn.autocommit = True
        # What autovacuum does soon after a bulk load: statistics and the visibility map.
        conn.execute("VACUUM ANALYZE accounts_user, ticketing_ticketrequest, events_tickettype")
    return Seeded(
        first_user=first_user,
        event_ids=[e.pk for e in event_objs],
        type_ids=[t.pk for t in types],
        requests=requests,
        tickets=sum(demand.values()),
        users=users,
    )


def _copy_users(conn, n: int, seed: int) -> int:
    """COPY n buyers with unusable passwords; return the first id."""
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM accounts_user")
        start = cur.fetchone()[0] + 1
        with cur.copy(
            "COPY accounts_user (id, password, is_superuser, email, name, is_staff, is_active, date_joined)"
            " FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        start + i,
                        "!",
                        False,
                        f"b{seed}-{start + i}@bench.test",
                        f"Buyer {i}",
                        False,
                        True,
                        "now",
                    )
                )
        cur.execute("SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)", (start + n - 1,))
    return start


def queued_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM ticketing_ticketrequest WHERE status = 'queued'").fetchone()[0]
