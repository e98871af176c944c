"""Figures over HTTP or through a running cluster: ingest, position, availability, on-sale, two nodes."""

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime

import psycopg
from django.conf import settings

from bench import database, web
from bench.scenarios import check_sold, percentile


def buyer_lines(seeded, *, count: int, seed: int) -> list[str]:
    """'token type_id quantity' for `count` distinct seeded buyers, each asking once."""
    rng = random.Random(seed)
    user_ids = list(range(seeded.first_user, seeded.first_user + count))
    return [
        f"{token} {rng.choice(seeded.type_ids)} {rng.randint(1, 4)}" for token in web.access_tokens(user_ids)
    ]


def combine(parts: list[dict]) -> dict:
    """One load's figures from its equal-length segments."""
    return {
        "rps": statistics.mean(p["rps"] for p in parts),
        "requests": sum(p["requests"] for p in parts),
        "p99_ms": max(p["p99_ms"] for p in parts),
        "non_2xx": sum(p["non_2xx"] for p in parts),
        "socket_errors": sum(p["socket_errors"] for p in parts),
        "tool": parts[0]["tool"],
    }


def ingest_figures(*, runs: int, duration: float, port: int, progress) -> dict:
    """POST /api/ticket-requests against a trivial authenticated endpoint, same server, same run."""
    # Enough buyers that none asks twice in a run: every POST is a valid, accepted request.
    buyers = int(duration * 4000)
    ingest, trivial, ratios, failures = [], [], [], 0
    with web.Server(port) as server:
        for run in range(1, runs + 1):
            time.sleep(1)  # requests still in flight from the last run finish
            database.reset()
            seeded = database.seed_queue(requests=0, events=1, users=buyers, capacity=10**7, seed=run)
            progress.update(f"ingest run {run}/{runs}: signing {buyers:,} tokens")
            lines = buyer_lines(seeded, count=buyers, seed=run)
            web.load(url=server.url, script="trivial", lines=lines[:500], duration=2)  # warm-up
            # Each side runs twice for half the time, in the order A B B A (which side is A
            # alternates between runs): a machine that speeds up or slows down during the run
            # weighs on both sides alike. Each ingest half has its own buyers.
            first, second = ("trivial", "ingest") if run % 2 else ("ingest", "trivial")
            halves = {"trivial": [lines, lines], "ingest": [lines[: buyers // 2], lines[buyers // 2 :]]}
            segments = {"trivial": [], "ingest": []}
            for script in (first, second, second, first):
                progress.update(f"ingest run {run}/{runs}: {script} for {duration / 2:.0f} s")
                part = halves[script][len(segments[script])]
                segments[script].append(
                    web.load(url=server.url, script=script, lines=part, duration=duration / 2)
                )
            got = {script: combine(parts) for script, parts in segments.items()}
            with psycopg.connect(database.conninfo()) as conn:
                queued = database.queued_count(conn)
            failures += got["ingest"]["non_2xx"] + got["ingest"]["socket_errors"] + got["trivial"]["non_2xx"]
            # wrk counts the responses it read; a few more may have been in flight when it stopped.
            if got["ingest"]["non_2xx"] or queued < got["ingest"]["requests"]:
                raise AssertionError(f"ingest: {got['ingest']} but {queued} requests queued")
            ingest.append(got["ingest"]["rps"])
            trivial.append(got["trivial"]["rps"])
            ratios.append(got["ingest"]["rps"] / got["trivial"]["rps"])
            i, t = got["ingest"], got["trivial"]
            progress.done(
                f"ingest run {run}/{runs}: {i['rps']:,.0f} req/s (p99 {i['p99_ms']:.0f} ms),"
                f" trivial {t['rps']:,.0f} req/s, ratio {ratios[-1]:.2f} ({i['tool']})"
            )
    return {
        "ingest_rps": round(statistics.median(ingest)),
        "trivial_rps": round(statistics.median(trivial)),
        "ingest_ratio_vs_trivial": round(statistics.median(ratios), 3),
        "ingest_runs": {
            "ingest_rps": [round(x) for x in ingest],
            "trivial_rps": [round(x) for x in trivial],
            "ratio": [round(x, 3) for x in ratios],
        },
        "http": {
            "gunicorn_workers": web.gunicorn_workers(),
            "connections": 32,
            "tool": got["ingest"]["tool"],
        },
    }


def position_figures(*, queued: int, duration: float, runs: int, port: int, progress) -> dict:
    """GET /api/queue/position latency for random requests of a queue `queued` long, one client."""
    database.reset()
    seeded = database.seed_queue(requests=queued, events=1, seed=11)
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute(
            "SELECT id, user_id FROM ticketing_ticketrequest WHERE event_id = %s"
            " ORDER BY random() LIMIT 2000",
            seeded.event_ids,
        ).fetchall()
    tokens = web.access_tokens([user_id for _, user_id in rows])
    lines = [f"{token} {request_id}" for token, (request_id, _) in zip(tokens, rows, strict=True)]
    p50, p99 = [], []
    with web.Server(port) as server:
        web.load(url=server.url, script="position", lines=lines, duration=2, connections=1, threads=1)
        for run in range(1, runs + 1):
            progress.update(f"position run {run}/{runs}: {queued:,} queued, one client, {duration:.0f} s")
            got = web.load(
                url=server.url, script="position", lines=lines, duration=duration, connections=1, threads=1
            )
            if got["non_2xx"]:
                raise AssertionError(f"position: {got['non_2xx']} failed requests")
            p50.append(got["p50_ms"])
            p99.append(got["p99_ms"])
            progress.done(
                f"position run {run}/{runs}: p50 {got['p50_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms"
            )
    return {
        "position_p99_ms_at_100k": round(statistics.median(p99), 2),
        "position_p50_ms_at_100k": round(statistics.median(p50), 2),
        "position_queued": queued,
        "position_runs_p99_ms": [round(x, 2) for x in p99],
    }


# The two anonymous reads of an event's availability: the API's and the event page's.
READS = ("availability", "event_page")


def check_availability(url: str, event_id: int, *, queued: int) -> None:
    """The API counts the event's queued requests, so the load reads the queue it is meant to."""
    with urllib.request.urlopen(f"{url}/api/availability?event_id={event_id}", timeout=10) as response:
        body = json.load(response)
    counted = sum(t["queued"] for t in body["ticket_types"])
    if counted != queued:
        raise AssertionError(f"availability: event {event_id} shows {counted} queued, not {queued}")


def availability_figures(*, queued: int, duration: float, runs: int, port: int, progress) -> dict:
    """GET /api/availability and the event page, one client, at `queued` queued and at an empty queue.

    Both events are in the same database, so the empty one's requests table is as long: only the
    event's own queue differs. Each read runs A B B A on the two events (which is A alternates
    between runs), each turn a quarter of `duration`, so both sides meet the same moments of the
    machine.
    """
    database.reset()
    progress.update(f"availability: seeding {queued:,} queued requests")
    # One capacity for both, so both pages show the same rows (none sold out).
    full = database.seed_queue(requests=queued, events=1, capacity=10**7, seed=13).event_ids[0]
    empty = database.seed_queue(requests=0, events=1, capacity=10**7, seed=14).event_ids[0]
    events = {"empty": empty, "full": full}
    lines = {side: [str(event_id)] for side, event_id in events.items()}
    got = {(read, side): {"p50_ms": [], "p99_ms": []} for read in READS for side in events}
    ratios = {read: [] for read in READS}
    with web.Server(port) as server:
        check_availability(server.url, full, queued=queued)
        check_availability(server.url, empty, queued=0)
        # Every worker loads its templates and opens its connection before the figures.
        for read in READS:
            for side in events:
                web.load(url=server.url, script=read, lines=lines[side], duration=1, connections=1, threads=1)
        for run in range(1, runs + 1):
            first, second = ("empty", "full") if run % 2 else ("full", "empty")
            for read in READS:
                halves = {"empty": [], "full": []}
                for side in (first, second, second, first):
                    progress.update(f"availability run {run}/{runs}: {read}, {side} queue, one client")
                    part = web.load(
                        url=server.url,
                        script=read,
                        lines=lines[side],
                        duration=duration / 4,
                        connections=1,
                        threads=1,
                    )
                    if part["non_2xx"] or part["socket_errors"]:
                        raise AssertionError(f"availability: {read} on the {side} queue: {part}")
                    halves[side].append(part)
                for side, parts in halves.items():
                    # Two halves of equal length: the p50 is their mean, the p99 the larger.
                    got[(read, side)]["p50_ms"].append(statistics.mean(p["p50_ms"] for p in parts))
                    got[(read, side)]["p99_ms"].append(max(p["p99_ms"] for p in parts))
                ratios[read].append(got[(read, "full")]["p50_ms"][-1] / got[(read, "empty")]["p50_ms"][-1])
            summary = []
            for read in READS:
                empty_run, full_run = got[(read, "empty")], got[(read, "full")]
                summary.append(
                    f"{read} p50 {empty_run['p50_ms'][-1]:.1f} ms empty, {full_run['p50_ms'][-1]:.1f} ms"
                    f" at {queued:,} (p99 {empty_run['p99_ms'][-1]:.1f}, {full_run['p99_ms'][-1]:.1f}),"
                    f" ratio {ratios[read][-1]:.2f}"
                )
            progress.done(f"availability run {run}/{runs}: " + "; ".join(summary))
    results = {"availability_queued": queued, "availability_runs": {}}
    for read in READS:
        for side, suffix in (("empty", "empty"), ("full", "at_500k")):
            for p in ("p50", "p99"):
                values = got[(read, side)][f"{p}_ms"]
                results[f"{read}_{p}_ms_{suffix}"] = round(statistics.median(values), 2)
                results["availability_runs"][f"{read}_{p}_ms_{suffix}"] = [round(x, 2) for x in values]
        results[f"{read}_ratio_500k_vs_empty"] = round(statistics.median(ratios[read]), 3)
        results["availability_runs"][f"{read}_ratio"] = [round(x, 3) for x in ratios[read]]
    return results


class Cluster:
    """A `manage.py qcluster` node with its own worker count."""

    def __init__(self, workers: int):
        env = {**os.environ, "Q_WORKERS": str(workers)}
        cmd = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)

    def stop(self):
        # The main process only: signalling the group can hang django-q2 (upstream issue #346).
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class FulfilmentWatcher(threading.Thread):
    """Notes when each request of the event becomes visible as served, polling every few ms.

    Batches of one event commit in the order of their processed_at (they hold the event's row
    lock), so rows newer than the last seen processed_at are all that can be new.
    """

    def __init__(self, event_id: int, interval: float = 0.005):
        super().__init__(daemon=True)
        self.event_id, self.interval = event_id, interval
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self):
        watermark = datetime(2000, 1, 1, tzinfo=UTC)
        sql = (
            "SELECT id, processed_at FROM ticketing_ticketrequest WHERE event_id = %s"
            " AND processed_at >= %s ORDER BY processed_at"
        )
        with psycopg.connect(database.conninfo(), autocommit=True) as conn:
            while not self.stopping.is_set():
                rows = conn.execute(sql, (self.event_id, watermark)).fetchall()
                now = time.time()
                for request_id, processed_at in rows:
                    self.seen.setdefault(request_id, now)
                    watermark = processed_at
                time.sleep(self.interval)


def onsale_figures(*, buyers: int, runs: int, port: int, progress) -> dict:
    """From each request's 202 to its fulfilment becoming visible, with gunicorn and a qcluster."""
    p50s, p99s, spans = [], [], []
    with web.Server(port) as server:
        for run in range(1, runs + 1):
            database.reset()
            seeded = database.seed_queue(requests=0, events=1, users=buyers, capacity=buyers * 4, seed=run)
            progress.update(f"on-sale run {run}/{runs}: signing {buyers:,} tokens")
            lines = buyer_lines(seeded, count=buyers, seed=run)
            path = web.write_lines(lines)
            cluster = Cluster(workers=2)
            watcher = FulfilmentWatcher(seeded.event_ids[0])
            try:
                time.sleep(3)  # the cluster's workers start
                watcher.start()
                progress.update(f"on-sale run {run}/{runs}: {buyers:,} buyers, 32 connections")
                cmd = [sys.executable, "-m", "bench.loadgen", "onsale", server.url, path, "0", "32"]
                out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
                deadline = time.monotonic() + 120
                while len(watcher.seen) < len(out["accepted"]) and time.monotonic() < deadline:
                    progress.update(
                        f"on-sale run {run}/{runs}: served", len(watcher.seen), len(out["accepted"])
                    )
                    time.sleep(0.2)
            finally:
                watcher.stopping.set()
                cluster.stop()
                os.unlink(path)
            if out["refused"] or len(out["accepted"]) != buyers:
                raise AssertionError(f"on-sale: {len(out['refused'])} refused: {out['refused'][:5]}")
            check_sold()
            waits = [(watcher.seen[rid] - accepted) * 1000 for rid, accepted in out["accepted"]]
            p50s.append(percentile(waits, 50))
            p99s.append(percentile(waits, 99))
            spans.append(out["seconds"])
            progress.done(
                f"on-sale run {run}/{runs}: {buyers:,} buyers in {out['seconds']:.1f} s;"
                f" accepted to fulfilled p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms"
            )
    return {
        "accept_to_fulfilled_p50_ms": round(statistics.median(p50s), 1),
        "accept_to_fulfilled_p99_ms": round(statistics.median(p99s), 1),
        "onsale_buyers": buyers,
        "onsale_runs": {"p50_ms": [round(x, 1) for x in p50s], "p99_ms": [round(x, 1) for x in p99s]},
        "onsale_arrival_seconds": round(statistics.median(spans), 2),
    }


def cluster_figures(*, requests: int, events: int, progress) -> dict:
    """Tickets per second drained by one qcluster node, then by two, on one PostgreSQL."""
    from ticketing.services import wakeups

    rates = {}
    for nodes in (1, 2):
        database.reset()
        seeded = database.seed_queue(requests=requests, events=events, seed=3)
        clusters = [Cluster(workers=1) for _ in range(nodes)]
        try:
            time.sleep(3)
            started = time.monotonic()
            for event_id in seeded.event_ids:
                wakeups.request_drain(event_id)
            with psycopg.connect(database.conninfo(), autocommit=True) as conn:
                while (left := database.queued_count(conn)) and time.monotonic() - started < 300:
                    progress.update(
                        f"cluster: {nodes} node(s) draining {events} events", requests - left, requests
                    )
                    time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            for c in clusters:
                c.stop()
        check_sold()
        rates[nodes] = seeded.tickets / elapsed
        progress.done(
            f"cluster: {nodes} node(s) of one worker, {events} events: {rates[nodes]:,.0f} tickets/s"
        )
    return {
        "cluster1_tickets_per_s": round(rates[1]),
        "cluster2_tickets_per_s": round(rates[2]),
        "cluster_events": events,
        "cluster_requests": requests,
    }
