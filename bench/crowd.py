"""A crowd at the opening, against the server `make run` starts; the plumbing bench/redisfault.py shares.

Both figures (this and bench/redisfault.py) run `manage.py serve` (gunicorn's threaded workers and
a django-q2 cluster, its children) with the benchmark's settings on its own port (8700-8799), and
drive it with bench.crowdgen, an aiohttp client in its own process: each buyer posts one ticket
request with an Idempotency-Key (posting it again with the same key after a connection error, a 5xx
or a 429), then polls its place as the server asks until the request is decided. Every type's
capacity is 80% of the tickets asked for, so some requests are refused sold out (served all or
nothing). Afterwards the database is read: each buyer must hold exactly one request (none if
refused at the door with a 409), every accepted request's row must exist, and nothing may remain
queued.

crowd: N buyers (--crowd, 3,000) arrive at uniformly random moments of a window (--crowd-window,
    40 s) centred on the sale's opening; the waiting room is open from the start, so half the
    crowd waits to be shuffled at the opening. The server uses DATABASE_URL's server and
    REDIS_URL as given. Figures: failed connections (refused, reset, timed out), 5xx and 429
    answers, joining p50/p99 (first attempt to the 202), polling p50/p99 (each poll's response
    time), seconds from the opening until the last buyer saw its decision (and until the server
    decided the last request, and until the cluster had sent every confirmation: the next run
    starts only then), requests undecided, lost or doubled. The median of --runs; lost,
    doubled and undecided are the worst run's.
"""

import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
from django.conf import settings

from bench import database, web
from bench.scenarios import percentile

CAPACITY_SHARE = 0.8
PENDING = ("queued", "waiting")


def free_port(taken=()) -> int:
    """A port of 8700-8799 nothing listens on."""
    for port in range(8700, 8800):
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8700-8799")


def descendants(pid: int) -> list[int]:
    """Every process below pid, from /proc."""
    children = defaultdict(list)
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                children[int(f.read().rsplit(")", 1)[1].split()[1])].append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Serve:
    """`manage.py serve --port P`, as `make run` starts it, logging to var/bench/logs/NAME.log."""

    def __init__(self, port: int, name: str, env: dict | None = None):
        self.port, self.env = port, env or {}
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = settings.DATA_DIR / "logs" / f"{name}.log"

    def __enter__(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")
        cmd = [sys.executable, "manage.py", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=settings.BASE_DIR,
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/events", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"manage.py serve did not start; see {self.log_path}") from None
                time.sleep(0.3)
        time.sleep(3)  # the cluster's workers start
        return self

    def __exit__(self, *exc):
        family = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in family:  # anything serve left behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()

    def log_summary(self) -> dict:
        """5xx lines of the access log, and the log's error lines, digits masked, most common first."""
        statuses, errors = Counter(), Counter()
        with open(self.log_path, errors="replace") as f:
            for line in f:
                access = re.search(r'"(?:GET|POST|HEAD|PUT|PATCH|DELETE) [^"]*" (\d{3}) ', line)
                if access:
                    statuses[access.group(1)] += access.group(1).startswith("5")
                elif re.search(r"Error|ERROR|CRITICAL|Exception|Traceback", line):
                    errors[re.sub(r"\d+", "N", line.strip())[:200]] += 1
        return {
            "access_log_5xx": {k: v for k, v in statuses.items() if v},
            "log_errors": dict(errors.most_common(10)),
            "log": str(self.log_path),
        }


def warm_up(url: str) -> None:
    """Every gunicorn thread loads the API's code and opens its connection, as on a live site.

    A buyer that does not exist: the POST is refused at validation (400), the poll at
    authentication (401), so nothing is written and no real buyer's throttle moves.
    """
    [token] = web.access_tokens([2**31 - 1])
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    calls = [("/api/ticket-requests", b"{}"), ("/api/queue/position?request_id=1", None)]

    def call(n):
        path, body = calls[n % 2]
        try:
            urllib.request.urlopen(urllib.request.Request(url + path, data=body, headers=auth), timeout=10)
        except OSError:  # the 400s and 401s expected
            pass

    with ThreadPoolExecutor(max_workers=48) as pool:
        list(pool.map(call, range(480)))


def seed_buyers(*, buyers: int, offsets: list[float], seed: int):
    """An event with three types, `buyers` buyers and their generator lines; the sale is set later."""
    seeded = database.seed_queue(
        requests=0, events=1, users=buyers, capacity=1, opens_in=timedelta(hours=1), seed=seed
    )
    rng = random.Random(seed)
    asked = [(rng.choice(seeded.type_ids), rng.randint(1, 4)) for _ in range(buyers)]
    demand = Counter()
    for type_id, quantity in asked:
        demand[type_id] += quantity
    with psycopg.connect(database.conninfo(), autocommit=True) as conn:
        for type_id in seeded.type_ids:
            capacity = max(1, int(CAPACITY_SHARE * demand[type_id]))
            conn.execute("UPDATE events_tickettype SET capacity = %s WHERE id = %s", (capacity, type_id))
    tokens = web.access_tokens(list(range(seeded.first_user, seeded.first_user + buyers)))
    lines = [
        f"{token} {type_id} {quantity} {offset:.3f} bench-{seed}-{n}-{secrets.token_hex(4)}"
        for n, (token, (type_id, quantity), offset) in enumerate(zip(tokens, asked, offsets, strict=True))
    ]
    return seeded, lines


def set_sale(event_id: int, *, opens_at: float, waiting_room_from: float | None) -> None:
    def at(t):
        return None if t is None else datetime.fromtimestamp(t, UTC)

    with psycopg.connect(database.conninfo(), autocommit=True) as conn:
        conn.execute(
            "UPDATE events_event SET sale_opens_at = %s, waiting_room_opens_at = %s WHERE id = %s",
            (at(opens_at), at(waiting_room_from), event_id),
        )


def run_crowdgen(url: str, lines: list[str], *, start: float, deadline: float, progress, label: str) -> dict:
    """bench.crowdgen in its own process; its progress lines go to the display."""
    path = web.write_lines(lines)
    out_path = path + ".json"
    cmd = [sys.executable, "-m", "bench.crowdgen", url, path, repr(start), repr(deadline)]
    try:
        with open(out_path, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
            tail = []
            for line in proc.stderr:
                tail = [*tail[-20:], line]
                progress.update(f"{label}: {line.strip()}")
            if proc.wait():
                raise RuntimeError(f"bench.crowdgen failed:\n{''.join(tail)}")
        with open(out_path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    finally:
        os.unlink(path)
        if os.path.exists(out_path):
            os.unlink(out_path)


def check_requests(event_id: int, first_user: int, out: dict, *, since: float) -> dict:
    """What the database holds against what each buyer was told; the last decision after `since`."""
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute(
            "SELECT user_id, id, status, created_at, processed_at FROM ticketing_ticketrequest"
            " WHERE event_id = %s",
            (event_id,),
        ).fetchall()
    by_user = defaultdict(list)
    for row in rows:
        by_user[row[0]].append(row)
    got = Counter()
    for n, buyer in enumerate(out["buyers"]):
        mine = by_user.get(first_user + n, [])
        got["doubled"] += len(mine) > 1
        if buyer["request_id"] is not None:
            got["lost"] += not any(row[1] == buyer["request_id"] for row in mine)
        elif buyer["final"] is None:
            got["lost"] += not mine  # never answered, and nothing recorded either
        elif mine:
            got["refused_but_recorded"] += 1
        if mine:
            committed = min(row[3] for row in mine).timestamp()
            got["errors_after_commit"] += sum(t >= committed for t in buyer["post_errors"])
        got["pending_in_db"] += sum(row[2] in PENDING for row in mine)
    decided = [row[4].timestamp() for row in rows if row[2] not in PENDING and row[4]]
    last = max(decided, default=None)
    return {**got, "rows": len(rows), "server_last_decided_s": last - since if last else None}


def summarise(out: dict, *, opens_at: float) -> dict:
    """The client's side of one run (the machine's load average too: the figures share its CPUs)."""
    buyers, failures = out["buyers"], out["failures"]
    joins = [b["join_ms"] for b in buyers if b["join_ms"] is not None]
    decided_at = [b["decided_at"] for b in buyers if b["decided_at"]]
    return {
        "failed_connections": sum(f[2] in ("connection", "timeout") for f in failures),
        "timeouts": sum(f[2] == "timeout" for f in failures),  # of the failed connections
        "5xx": sum(f[2] == "5xx" for f in failures),
        "429": sum(f[2] == "429" for f in failures),
        "post_retries": sum(max(0, b["attempts"] - 1) for b in buyers),
        "join_p50_ms": percentile(joins, 50) if joins else None,
        "join_p99_ms": percentile(joins, 99) if joins else None,
        "poll_p50_ms": percentile(out["polls_ms"], 50) if out["polls_ms"] else None,
        "poll_p99_ms": percentile(out["polls_ms"], 99) if out["polls_ms"] else None,
        "polls": len(out["polls_ms"]),
        "poll_wait_s": [min(out["asked_s"], default=None), max(out["asked_s"], default=None)],
        # (ms, seconds after the opening it was accepted): when the slowest joins happened.
        "slowest_joins": sorted(
            ((round(b["join_ms"]), round(b["accepted_at"] - opens_at, 1)) for b in buyers if b["join_ms"]),
            reverse=True,
        )[:5],
        # Polls a second, and how many of them took over a second, by second after the opening:
        # where the polling p99 comes from.
        "polls_by_second": polls_by_second(out, opens_at=opens_at),
        "accepted": len(joins),
        "refused": sum(b["request_id"] is None and b["final"] is not None for b in buyers),
        "outcomes": dict(Counter(str(b["final"]) for b in buyers)),
        "undecided": sum(b["final"] is None for b in buyers),
        "last_decided_s": max(decided_at) - opens_at if decided_at else None,
        "load_average_1m_after": os.getloadavg()[0],
    }


def polls_by_second(out: dict, *, opens_at: float) -> dict:
    """{second after the opening: [polls sent, polls slower than 1 s]}, for the seconds with polls."""
    by_second = defaultdict(lambda: [0, 0])
    for at, ms in zip(out.get("polls_at", []), out["polls_ms"], strict=False):
        second = by_second[int(at - opens_at + 1000) - 1000]
        second[0] += 1
        second[1] += ms > 1000
    return dict(sorted(by_second.items()))


def crowd_run(server: Serve, *, buyers: int, window: float, settle: float, run: int, progress, label: str):
    database.reset()
    warm_up(server.url)
    progress.update(f"{label}: seeding {buyers:,} buyers and signing their tokens")
    rng = random.Random(run)
    seeded, lines = seed_buyers(
        buyers=buyers, offsets=[rng.uniform(0, window) for _ in range(buyers)], seed=run
    )
    start = time.time() + 3  # the generator is up by then
    opens_at = start + window / 2
    set_sale(seeded.event_ids[0], opens_at=opens_at, waiting_room_from=start - 60)
    deadline = start + window + settle
    out = run_crowdgen(server.url, lines, start=start, deadline=deadline, progress=progress, label=label)
    checked = check_requests(seeded.event_ids[0], seeded.first_user, out, since=opens_at)
    progress.update(f"{label}: waiting for the cluster to send every confirmation")
    sent_at = wait_for_outbox()
    emails = {"emails_sent_s": sent_at - opens_at if sent_at else None}
    return {**summarise(out, opens_at=opens_at), **checked, **emails}


def wait_for_outbox(timeout: float = 900.0) -> float | None:
    """When the outbox was last seen empty (every confirmation sent); None if not within timeout.

    Also keeps one run's emails from being rendered during the next run's opening: each run
    measures one crowd, not a crowd on top of the last one's unfinished work.
    """
    deadline = time.time() + timeout
    with psycopg.connect(database.conninfo(), autocommit=True) as conn:
        while time.time() < deadline:
            [(owed,)] = conn.execute("SELECT count(*) FROM ticketing_outboxemail WHERE sent_at IS NULL")
            if not owed:
                return time.time()
            time.sleep(1)
    return None


def crowd_figures(*, buyers: int, window: float, runs: int, progress, settle: float = 120.0) -> dict:
    """The median of `runs` (undecided, lost and doubled: the worst run's); seconds from the opening."""
    per_run = []
    with Serve(free_port(), "crowd") as server:
        for run in range(1, runs + 1):
            label = f"crowd run {run}/{runs}"
            got = crowd_run(
                server, buyers=buyers, window=window, settle=settle, run=run, progress=progress, label=label
            )
            per_run.append(got)
            progress.done(
                f"{label}: {buyers:,} buyers, {got['failed_connections']} failed connections,"
                f" {got['5xx']} 5xx, {got['429']} 429; joining p99 {got['join_p99_ms'] or 0:.0f} ms,"
                f" polling p99 {got['poll_p99_ms'] or 0:.0f} ms; {got['undecided']} undecided,"
                f" {got['lost']} lost, {got['doubled']} doubled; last decided"
                f" {got['last_decided_s'] or 0:.1f} s after the opening"
            )
        log = server.log_summary()
    results = {"crowd_buyers": buyers, "crowd_window_s": window, "crowd_broker": settings.Q_BROKER}
    for key in ("failed_connections", "5xx", "429", "post_retries", "join_p50_ms", "join_p99_ms"):
        results[f"crowd_{key}"] = median(per_run, key)
    for key in ("poll_p50_ms", "poll_p99_ms", "last_decided_s", "server_last_decided_s", "emails_sent_s"):
        results[f"crowd_{key}"] = median(per_run, key)
    for key in ("undecided", "lost", "doubled", "pending_in_db"):
        results[f"crowd_{key}"] = max(r[key] for r in per_run)
    return {**results, "crowd_runs": per_run, "crowd_server": log}


def median(per_run: list[dict], key: str) -> float | None:
    values = [r[key] for r in per_run if r[key] is not None]
    return round(statistics.median(values), 1) if values else None
