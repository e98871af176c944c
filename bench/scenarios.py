"""The engine-only figures: allocation throughput against raw SQL, drain memory, queue position."""

import json
import os
import random
import statistics
import subprocess
import sys
import time

import psycopg
from django.conf import settings

from bench import alloc, database


def run_engine_drain(*, event_ids: list[int], total: int, progress, stage: str, batch_size=None) -> dict:
    """The real drain in a fresh process (a cold start), with the queue's progress shown meanwhile."""
    cmd = [sys.executable, "-m", "bench.worker", "drain", ",".join(map(str, event_ids))]
    if batch_size:
        cmd.append(str(batch_size))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    with psycopg.connect(database.conninfo(), autocommit=True) as conn:
        while proc.poll() is None:
            progress.update(stage, total - database.queued_count(conn), total)
            time.sleep(1.0)
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the drain worker failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def check_sold() -> dict:
    """The invariants after a drain: the queue is empty and no type sold past its capacity."""
    with psycopg.connect(database.conninfo()) as conn:
        queued = database.queued_count(conn)
        oversold = conn.execute("SELECT count(*) FROM events_tickettype WHERE sold > capacity").fetchone()[0]
        tickets = conn.execute("SELECT count(*) FROM ticketing_ticket").fetchone()[0]
        sold = conn.execute("SELECT coalesce(sum(sold), 0) FROM events_tickettype").fetchone()[0]
    if queued or oversold or tickets != sold:
        raise AssertionError(
            f"left {queued} queued, {oversold} types oversold, {tickets} tickets for {sold} sold"
        )
    return {"queued_left": queued, "oversold_types": oversold, "tickets": tickets}


class EngineProcess:
    """The real drain in a fresh process (a cold start), stepped over a pipe."""

    def __init__(self, event_ids: list[int]):
        cmd = [sys.executable, "-m", "bench.worker", "lockstep", ",".join(map(str, event_ids))]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, *, batches: int) -> dict:
        self.proc.stdin.write(f"go {batches}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the drain worker died ({self.proc.wait()})")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def alloc_figures(*, requests: int, runs: int, progress, step: int = 4) -> dict:
    """Tickets per second of the real drain and of the SQL reference on identical queues.

    The two drain separate copies of the same queue in one database, taking turns of `step`
    batches, so both see the same moments of a noisy machine and the ratio holds still.
    """
    batch_size = settings.EVENTTIX_DRAIN_BATCH_SIZE
    engine_rates, sql_rates, ratios = [], [], []
    for run in range(1, runs + 1):
        database.reset()
        mine = database.seed_queue(requests=requests, seed=run)
        reference = database.seed_queue(requests=requests, seed=run)
        engine = EngineProcess(mine.event_ids)
        sql = alloc.SqlSteps(
            conninfo=database.conninfo(), event_ids=reference.event_ids, batch_size=batch_size
        )
        e = q = {"done": False, "requests": 0}
        try:
            while not (e["done"] and q["done"]):
                if not e["done"]:
                    e = engine.run(batches=step)
                if not q["done"]:
                    q = sql.run(batches=step)
                progress.update(
                    f"alloc run {run}/{runs}: drain and SQL", e["requests"] + q["requests"], 2 * requests
                )
        finally:
            engine.close()
        check_sold()
        engine_rate, sql_rate = e["tickets"] / e["seconds"], q["tickets"] / q["seconds"]
        engine_rates.append(engine_rate)
        sql_rates.append(sql_rate)
        ratios.append(engine_rate / sql_rate)
        progress.done(
            f"alloc run {run}/{runs}: drain {engine_rate:,.0f} tickets/s, SQL {sql_rate:,.0f} tickets/s, "
            f"ratio {engine_rate / sql_rate:.2f} ({e['tickets']:,} tickets in {e['batches']} batches each)"
        )
    return {
        "alloc_tickets_per_s": round(statistics.median(engine_rates)),
        "alloc_sql_tickets_per_s": round(statistics.median(sql_rates)),
        "alloc_ratio_vs_sql": round(statistics.median(ratios), 3),
        "alloc_runs": {
            "tickets_per_s": [round(x) for x in engine_rates],
            "sql_tickets_per_s": [round(x) for x in sql_rates],
            "ratio": [round(x, 3) for x in ratios],
        },
        "alloc_requests": requests,
        "alloc_batch_size": batch_size,
    }


def memory_figures(*, sizes: list[int], progress) -> dict:
    """Peak resident memory of a drain process for growing queues: flat when the drain batches."""
    peaks = {}
    for size in sizes:
        database.reset()
        seeded = database.seed_queue(requests=size, events=1, seed=7)
        result = run_engine_drain(
            event_ids=seeded.event_ids, total=size, progress=progress, stage=f"memory: drain of {size:,}"
        )
        check_sold()
        peaks[size] = result
        progress.done(
            f"memory: drain of {size:,} requests peaked at {result['peak_rss_mb']} MB "
            f"(after start-up {result['rss_before_mb']} MB)"
        )
    largest = max(sizes)
    return {
        "drain_peak_rss_mb": peaks[largest]["peak_rss_mb"],
        "drain_rss_mb_by_queue": {str(k): v["peak_rss_mb"] for k, v in peaks.items()},
        "drain_startup_rss_mb": peaks[largest]["rss_before_mb"],
    }


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def seed_position_queue(*, queued: int) -> list[int]:
    """One open event with `queued` requests waiting; their ids."""
    database.reset()
    seeded = database.seed_queue(requests=queued, events=1, seed=11)
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute("SELECT id FROM ticketing_ticketrequest WHERE event_id = %s", seeded.event_ids)
        return [r[0] for r in rows]


def position_selector_figures(*, request_ids: list[int], samples: int, progress) -> dict:
    """Latency of the queue_position selector (no HTTP) for random requests across the queue."""
    from ticketing.models import TicketRequest
    from ticketing.selectors import queue_position

    rng = random.Random(5)
    timings = []
    for i in range(samples):
        pk = rng.choice(request_ids)
        started = time.perf_counter()
        ticket_request = TicketRequest.objects.get(pk=pk)
        queue_position(ticket_request=ticket_request)
        timings.append((time.perf_counter() - started) * 1000)
        if i % 50 == 0:
            progress.update("position: selector", i, samples)
    return {
        "position_selector_p50_ms": round(percentile(timings, 50), 2),
        "position_selector_p99_ms": round(percentile(timings, 99), 2),
    }
