"""The crowd's load generator, run as its own process (asyncio + aiohttp); prints one JSON line.

python -m bench.crowdgen URL LINES START DEADLINE

Each line of LINES is one buyer: "token ticket_type_id quantity offset idempotency_key". At the
wall-clock time START + offset the buyer posts its ticket request with its Idempotency-Key; on a
connection error, a timeout, a 5xx or a 429 it waits (the answer's Retry-After, else a short
jittered backoff) and posts again with the same key. Once it holds a 202 it polls
GET /api/queue/position, waiting between polls what the server asks (`poll_after_seconds`, else
the Retry-After header, else 2 s), until its request is decided (neither queued nor waiting). A 4xx
other than 429 (409 sold out at the door, for instance) is a final answer too. Nobody waits past
the wall-clock DEADLINE.

One connection per buyer in flight, as browsers would: one connector with no pool limit. An idle
connection is kept for 1 s only, less than the 5 s keep-alive `manage.py serve` gives gunicorn,
so no request is sent on a connection the server is closing (a client-side race browsers hide by
retrying).

Output: {"buyers": [{"status", "request_id", "join_ms", "attempts", "accepted_at", "final",
"decided_at", "post_errors"}], "polls_ms": [...], "polls_at": [when each was sent],
"asked_s": [waits between polls], "failures": [[wall time, "post"|"poll", kind, http status or
null], ...]}, kind one of connection, timeout, 5xx, 429.
"""

import asyncio
import json
import random
import resource
import sys
import time

import aiohttp

PENDING = ("queued", "waiting")
DEFAULT_POLL_S = 2.0
TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


def raise_fd_limit() -> None:
    """Every buyer may hold a socket: allow as many open files as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def seconds(value) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


class Crowd:
    def __init__(self, url: str, start: float, deadline: float):
        self.url, self.start, self.deadline = url, start, deadline
        self.polls_ms: list[float] = []
        self.polls_at: list[float] = []  # when each poll was sent (wall clock), beside polls_ms
        self.failures: list[list] = []
        self.buyers: list[dict] = []
        self.asked_s: list[float] = []  # the waits the server asked for between polls

    async def call(self, session, what: str, method: str, path: str, **kwargs):
        """(status, body, retry_after) of one request, or (None, None, None) on a failed connection."""
        started = time.perf_counter()
        try:
            async with session.request(method, self.url + path, **kwargs) as response:
                raw = await response.read()
                status, retry_after = response.status, seconds(response.headers.get("Retry-After"))
        except TimeoutError:
            self.failures.append([time.time(), what, "timeout", None])
            return None, None, None
        except aiohttp.ClientError:
            # Refused, reset, or closed before the answer: connection errors all.
            self.failures.append([time.time(), what, "connection", None])
            return None, None, None
        if what == "poll":
            self.polls_ms.append((time.perf_counter() - started) * 1000)
            self.polls_at.append(time.time() - (time.perf_counter() - started))
        if status >= 500 or status == 429:
            self.failures.append([time.time(), what, "5xx" if status >= 500 else "429", status])
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        return status, body, retry_after

    async def buyer(self, session, n: int, line: str) -> None:
        token, type_id, quantity, offset, key = line.split()
        record = {"status": None, "request_id": None, "join_ms": None, "attempts": 0, "final": None}
        record.update(accepted_at=None, decided_at=None, post_errors=[])
        self.buyers[n] = record
        auth = {"Authorization": f"Bearer {token}"}
        post = {
            "headers": {**auth, "Content-Type": "application/json", "Idempotency-Key": key},
            "data": json.dumps({"ticket_type_id": int(type_id), "quantity": int(quantity)}).encode(),
        }
        await asyncio.sleep(max(0.0, self.start + float(offset) - time.time()))
        first = time.monotonic()
        while True:
            record["attempts"] += 1
            status, body, retry_after = await self.call(
                session, "post", "POST", "/api/ticket-requests", **post
            )
            record["status"] = status
            if status is not None and status < 500 and status != 429:
                break
            record["post_errors"].append(time.time())
            wait = retry_after if retry_after is not None else min(8.0, 0.5 * 2 ** record["attempts"])
            wait *= 1 if retry_after is not None else random.uniform(0.5, 1.0)
            if time.time() + wait >= self.deadline:
                return
            await asyncio.sleep(wait)
        if status != 202:
            record["final"] = f"refused {status} {body.get('code', '') if isinstance(body, dict) else ''}"
            return
        record["join_ms"] = (time.monotonic() - first) * 1000
        record["accepted_at"] = time.time()
        record["request_id"] = body["id"]
        wait = seconds(body.get("poll_after_seconds")) or DEFAULT_POLL_S
        self.asked_s.append(wait)
        path = f"/api/queue/position?request_id={body['id']}"
        while time.time() + wait < self.deadline:
            await asyncio.sleep(wait)
            status, body, retry_after = await self.call(session, "poll", "GET", path, headers=auth)
            if status == 200 and body.get("status") not in PENDING:
                record["final"], record["decided_at"] = body.get("status"), time.time()
                return
            if status is not None and 400 <= status < 500 and status != 429:
                record["final"] = f"poll {status}"
                return
            asked = seconds(body.get("poll_after_seconds")) if status == 200 else None
            wait = asked if asked is not None else retry_after if retry_after is not None else DEFAULT_POLL_S
            self.asked_s.append(wait)

    async def progress(self, total: int) -> None:
        while True:
            await asyncio.sleep(2)
            joined = sum(1 for b in self.buyers if b and b["status"] is not None)
            decided = sum(1 for b in self.buyers if b and b["final"] is not None)
            print(
                f"{time.time() - self.start:+.0f} s: {joined:,}/{total:,} answered, {decided:,} decided,"
                f" {len(self.failures):,} failures",
                file=sys.stderr,
                flush=True,
            )

    async def run(self, lines: list[str]) -> dict:
        self.buyers = [None] * len(lines)
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=1.0)
        async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
            reporter = asyncio.create_task(self.progress(len(lines)))
            await asyncio.gather(*(self.buyer(session, n, line) for n, line in enumerate(lines)))
            reporter.cancel()
        return {
            "buyers": self.buyers,
            "polls_ms": self.polls_ms,
            "polls_at": self.polls_at,
            "failures": self.failures,
            "asked_s": self.asked_s,
        }


def main(argv: list[str]) -> None:
    url, path, start, deadline = argv
    raise_fd_limit()
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line]
    result = asyncio.run(Crowd(url, float(start), float(deadline)).run(lines))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
