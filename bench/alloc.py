"""Allocation throughput: the real drain, and the smallest raw SQL that does the same work."""

import resource
import time

import psycopg

# One batch of the reference, in one transaction: lock the event's types, pick the next N queued
# requests in queue order, write their orders and tickets, mark them served, move the counters.
# The orders are there because a ticket row needs one. It writes no audit rows and checks no
# per-buyer limit, so it does strictly less than the drain: the ratio is a conservative one.
SQL_LOCK_TYPES = "SELECT id FROM events_tickettype WHERE event_id = %(event)s ORDER BY id FOR UPDATE"
SQL_BATCH = """
WITH picked AS (
    SELECT id, user_id, ticket_type_id, quantity, unit_price FROM ticketing_ticketrequest
    WHERE event_id = %(event)s AND status = 'queued'
    ORDER BY priority DESC, seq
    LIMIT %(n)s
    FOR UPDATE
), orders AS (
    INSERT INTO ticketing_order (request_id, user_id, event_id, ticket_type_id, status, quantity, active,
                                 unit_price, total, refunded, created_at)
    SELECT p.id, p.user_id, %(event)s, p.ticket_type_id, 'confirmed', p.quantity, p.quantity, p.unit_price,
           p.unit_price * p.quantity, 0, now()
    FROM picked p
    RETURNING id, ticket_type_id, quantity
), tickets AS (
    INSERT INTO ticketing_ticket (order_id, ticket_type_id, qr_token, status)
    SELECT o.id, o.ticket_type_id, replace(gen_random_uuid()::text, '-', ''), 'valid'
    FROM orders o, generate_series(1, o.quantity)
), served AS (
    UPDATE ticketing_ticketrequest r SET status = 'fulfilled', processed_at = now()
    FROM picked p WHERE r.id = p.id
), per_type AS (
    SELECT ticket_type_id, sum(quantity) AS n FROM picked GROUP BY ticket_type_id
), moved AS (
    UPDATE events_tickettype t SET sold = t.sold + per_type.n
    FROM per_type WHERE t.id = per_type.ticket_type_id AND t.sold + per_type.n <= t.capacity
    RETURNING t.id
)
SELECT (SELECT count(*) FROM picked), (SELECT coalesce(sum(quantity), 0) FROM picked),
       (SELECT count(*) FROM moved), (SELECT count(*) FROM per_type)
"""


class SqlSteps:
    """The SQL reference, served a few batches at a time so it can alternate with the real drain."""

    def __init__(self, *, conninfo: str, event_ids: list[int], batch_size: int):
        self.conn = psycopg.connect(conninfo)
        self.pending = list(event_ids)
        self.batch_size = batch_size
        self.totals = {"requests": 0, "tickets": 0, "batches": 0, "seconds": 0.0, "done": False}

    def run(self, *, batches: int) -> dict:
        started = time.perf_counter()
        for _ in range(batches):
            if not self.pending:
                break
            event_id = self.pending[0]
            with self.conn.transaction():
                self.conn.execute(SQL_LOCK_TYPES, {"event": event_id})
                row = self.conn.execute(SQL_BATCH, {"event": event_id, "n": self.batch_size}).fetchone()
            n, tickets, moved, types = row
            if moved != types:
                raise RuntimeError("a counter did not move: the seed oversold its capacity")
            self.totals["requests"] += n
            self.totals["tickets"] += tickets
            self.totals["batches"] += 1
            if n < self.batch_size:
                self.pending.pop(0)
        self.totals["seconds"] += time.perf_counter() - started
        self.totals["done"] = not self.pending
        if self.totals["done"]:
            self.conn.close()
        return dict(self.totals)


class EngineSteps:
    """The real drain (ticketing.services.drain_event_queue), one batch per call, a few at a time."""

    def __init__(self, *, event_ids: list[int]):
        self.pending = list(event_ids)
        self.totals = {"requests": 0, "tickets": 0, "batches": 0, "seconds": 0.0, "done": False}
        self.rss_before_mb = peak_rss_mb()

    def run(self, *, batches: int) -> dict:
        from ticketing.services import drain_event_queue

        started = time.perf_counter()
        for _ in range(batches):
            if not self.pending:
                break
            # A zero time budget serves exactly one batch; `more` says whether the queue went on.
            result = drain_event_queue(event_id=self.pending[0], time_budget=0)
            self.totals["requests"] += result.fulfilled + result.rejected
            self.totals["tickets"] += result.tickets
            self.totals["batches"] += result.batches
            if not result.more:
                self.pending.pop(0)
        self.totals["seconds"] += time.perf_counter() - started
        self.totals["done"] = not self.pending
        return {**self.totals, "rss_before_mb": self.rss_before_mb, "peak_rss_mb": peak_rss_mb()}


def drain_with_engine(*, event_ids: list[int], batch_size: int | None = None, on_batch=None) -> dict:
    """Serve the events' queues with the real drain (ticketing.services.drain_event_queue) until empty."""
    from ticketing.services import drain_event_queue

    tickets = fulfilled = rejected = batches = 0
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    for event_id in event_ids:
        while True:
            result = drain_event_queue(event_id=event_id, batch_size=batch_size)
            tickets += result.tickets
            fulfilled += result.fulfilled
            rejected += result.rejected
            batches += result.batches
            if on_batch:
                on_batch(fulfilled + rejected)
            if not result.more:
                break
    elapsed = time.perf_counter() - started
    return {
        "requests": fulfilled + rejected,
        "fulfilled": fulfilled,
        "rejected": rejected,
        "tickets": tickets,
        "batches": batches,
        "seconds": elapsed,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    # VmHWM starts afresh at exec; ru_maxrss can carry the forking parent's peak over.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
