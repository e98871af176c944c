"""Redis going away mid-sale, against the server `make run` starts (plumbing from bench/crowd.py).

redisfault: the benchmark's own redis-server on a free port serves the cache and throttles, and
    with Q_BROKER=redis the task broker too (first Q_BROKER=orm, the recommended layout, then
    Q_BROKER=redis). 40 distinct buyers a second post for 45 s on an open sale; 15 s in, Redis
    is stopped for 15 s, then started again on the same port, empty. The buyers follow their
    requests for up to 90 s more. Figures: 5xx during the outage (stop to restart) and outside
    it, failed connections, requests lost or doubled, error answers to posts whose request had
    already committed, requests undecided. The worst of --runs.
"""

import subprocess
import threading
import time
from dataclasses import asdict, dataclass

from bench import database
from bench.crowd import (
    Serve,
    check_requests,
    free_port,
    run_crowdgen,
    seed_buyers,
    set_sale,
    summarise,
    warm_up,
)


class PrivateRedis:
    """The benchmark's own redis-server, no persistence: stopped and started at will."""

    def __init__(self, port: int):
        self.port, self.proc = port, None

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
        self.client().ping()  # redis-py retries the connection until it answers

    def client(self):
        import redis

        retry = redis.retry.Retry(redis.backoff.ConstantBackoff(0.1), 50)
        return redis.Redis(port=self.port, retry=retry, retry_on_error=[redis.ConnectionError])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # --save "": it exits without writing anything
            self.proc.wait(timeout=10)


def outage(redis: PrivateRedis, stop_at: float, start_at: float) -> tuple[threading.Thread, dict]:
    """A thread that stops the private Redis at `stop_at` and starts it at `start_at` (wall clock)."""
    times = {}

    def run():
        time.sleep(max(0.0, stop_at - time.time()))
        redis.stop()
        times["stopped"] = time.time()
        time.sleep(max(0.0, start_at - time.time()))
        redis.start()
        times["restarted"] = time.time()

    return threading.Thread(target=run, daemon=True), times


@dataclass(frozen=True)
class Flood:
    """The redisfault figure's timeline, in seconds from the first post."""

    rate: float = 40  # distinct buyers posting per second
    seconds: float = 45
    outage_at: float = 15
    outage_for: float = 15
    settle: float = 90  # after the last post, for the buyers to see their decisions


def redisfault_run(
    server: Serve, redis: PrivateRedis, flood: Flood, *, run: int, progress, label: str
) -> dict:
    database.reset()
    redis.client().flushall()
    warm_up(server.url)
    buyers = int(flood.rate * flood.seconds)
    progress.update(f"{label}: seeding {buyers:,} buyers")
    offsets = [n / flood.rate for n in range(buyers)]
    seeded, lines = seed_buyers(buyers=buyers, offsets=offsets, seed=run)
    start = time.time() + 3
    set_sale(seeded.event_ids[0], opens_at=start - 60, waiting_room_from=None)
    thread, times = outage(redis, start + flood.outage_at, start + flood.outage_at + flood.outage_for)
    thread.start()
    deadline = start + flood.seconds + flood.settle
    out = run_crowdgen(server.url, lines, start=start, deadline=deadline, progress=progress, label=label)
    thread.join()
    got = {
        **summarise(out, opens_at=start),
        **check_requests(seeded.event_ids[0], seeded.first_user, out, since=start),
    }
    during = [f for f in out["failures"] if times["stopped"] <= f[0] < times["restarted"]]
    got["5xx_during_outage"] = sum(f[2] == "5xx" for f in during)
    got["5xx_outside_outage"] = got["5xx"] - got["5xx_during_outage"]
    got["failed_connections_during_outage"] = sum(f[2] in ("connection", "timeout") for f in during)
    got["outage_s"] = round(times["restarted"] - times["stopped"], 1)
    return got


def redisfault_figures(*, runs: int, progress, flood: Flood = Flood(), brokers=("orm", "redis")) -> dict:
    """Each broker layout in turn, with its own private Redis and server; the worst of `runs`."""
    results = {"redisfault_flood": asdict(flood)}
    for broker in brokers:
        redis = PrivateRedis(free_port())
        redis.start()
        env = {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/0", "Q_BROKER": broker}
        per_run = []
        try:
            with Serve(free_port({redis.port}), f"redisfault-{broker}", env) as server:
                for run in range(1, runs + 1):
                    label = f"redisfault ({broker} broker) run {run}/{runs}"
                    got = redisfault_run(server, redis, flood, run=run, progress=progress, label=label)
                    per_run.append(got)
                    progress.done(
                        f"{label}: {got['5xx_during_outage']} 5xx during the outage,"
                        f" {got['5xx_outside_outage']} outside; {got['failed_connections']} failed"
                        f" connections; {got['lost']} lost, {got['doubled']} doubled,"
                        f" {got['errors_after_commit']} errors after commit, {got['undecided']} undecided"
                    )
                log = server.log_summary()
        finally:
            redis.stop()
        keys = ("5xx_during_outage", "5xx_outside_outage", "failed_connections", "429", "lost", "doubled")
        keys += ("errors_after_commit", "undecided", "pending_in_db")
        results.update({f"redisfault_{broker}_{key}": max(r[key] for r in per_run) for key in keys})
        # Seconds from the first post until the last buyer saw its decision.
        last = [r["last_decided_s"] for r in per_run if r["last_decided_s"] is not None]
        results[f"redisfault_{broker}_last_decided_s"] = round(max(last), 1) if last else None
        results[f"redisfault_{broker}_runs"] = per_run
        results[f"redisfault_{broker}_server"] = log
    return results
