"""Runs the scenarios in order, prints the table and writes bench/results.json."""

import json
import os
import platform
import shutil
import time

from bench import database
from bench.progress import Progress, table

ALL = [
    "alloc",
    "memory",
    "position",
    "availability",
    "ingest",
    "onsale",
    "cluster",
    "crowd",
    "redisfault",
    "door",
]

# (key, target, higher is better, unit)
TARGETS = [
    ("alloc_tickets_per_s", 5000, True, "tickets/s"),
    ("alloc_ratio_vs_sql", 0.4, True, "× SQL"),
    ("ingest_rps", None, True, "req/s"),
    ("trivial_rps", None, True, "req/s"),
    ("ingest_ratio_vs_trivial", 0.35, True, "× trivial"),
    ("accept_to_fulfilled_p50_ms", 200, False, "ms"),
    ("accept_to_fulfilled_p99_ms", 1000, False, "ms"),
    ("position_p99_ms_at_100k", 25, False, "ms"),
    ("availability_p50_ms_empty", None, False, "ms"),
    ("availability_p50_ms_at_500k", None, False, "ms"),
    ("availability_p99_ms_empty", None, False, "ms"),
    ("availability_p99_ms_at_500k", None, False, "ms"),
    ("availability_ratio_500k_vs_empty", 1.5, False, "× empty"),
    ("event_page_p50_ms_empty", None, False, "ms"),
    ("event_page_p50_ms_at_500k", None, False, "ms"),
    ("event_page_p99_ms_empty", None, False, "ms"),
    ("event_page_p99_ms_at_500k", None, False, "ms"),
    ("event_page_ratio_500k_vs_empty", 1.5, False, "× empty"),
    ("drain_peak_rss_mb", None, False, "MB"),
    ("cluster1_tickets_per_s", None, True, "tickets/s"),
    ("cluster2_tickets_per_s", None, True, "tickets/s"),
    # bench/crowd.py: the crowd at the opening (median of the runs; undecided, lost and doubled
    # the worst run's), then Redis stopped mid-sale under each broker (the worst run's).
    ("crowd_failed_connections", 0, False, "connections"),
    ("crowd_5xx", 0, False, "answers"),
    ("crowd_429", None, False, "answers"),
    ("crowd_join_p50_ms", None, False, "ms"),
    ("crowd_join_p99_ms", 2000, False, "ms"),
    ("crowd_poll_p50_ms", None, False, "ms"),
    ("crowd_poll_p99_ms", 1000, False, "ms"),
    ("crowd_last_decided_s", None, False, "s after opening"),
    ("crowd_emails_sent_s", None, False, "s after opening"),
    ("crowd_undecided", 0, False, "requests"),
    ("crowd_lost", 0, False, "requests"),
    ("crowd_doubled", 0, False, "buyers"),
    *(
        (f"redisfault_{broker}_{key}", target, False, unit)
        for broker in ("orm", "redis")
        for key, target, unit in (
            ("5xx_during_outage", 0, "answers"),
            ("5xx_outside_outage", 0, "answers"),
            ("failed_connections", None, "connections"),
            ("errors_after_commit", None, "answers"),
            ("lost", 0, "requests"),
            ("doubled", 0, "buyers"),
            ("undecided", 0, "requests"),
        )
    ),
    # bench/door.py: 4 door clients checking every ticket in once; 4 devices' offline scans synced.
    ("door_checkins_per_s", None, True, "check-ins/s"),
    ("door_checkin_p50_ms", None, False, "ms"),
    ("door_checkin_p99_ms", None, False, "ms"),
    ("door_sync_seconds", None, False, "s"),
    ("door_sync_scans", None, True, "scans"),
]


def run(args, url: str) -> dict:
    progress = Progress()
    wanted = [s for s in (args.only.split(",") if args.only else ALL) if s]
    progress.done(f"benchmark database {url.rsplit('/', 1)[-1]} (recreated); scenarios: {', '.join(wanted)}")
    database.recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs}
    results.update(environment())
    try:
        results.update(run_scenarios(args, wanted, progress))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            database.drop_database(url)
    if args.merge and os.path.exists(args.output):
        with open(args.output) as f:
            results = {**json.load(f), **results}
    with open(args.output, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print(report(results))
    print(f"\nwritten to {os.path.relpath(args.output)}")
    return results


def run_scenarios(args, wanted: list[str], progress) -> dict:
    from bench import http_scenarios, scenarios

    results = {}
    if "alloc" in wanted:
        results.update(scenarios.alloc_figures(requests=args.requests, runs=args.runs, progress=progress))
    if "memory" in wanted:
        sizes = sorted({max(1, args.memory_queue // 10), args.memory_queue})
        results.update(scenarios.memory_figures(sizes=sizes, progress=progress))
    if "position" in wanted:
        ids = scenarios.seed_position_queue(queued=args.position_queue)
        results.update(scenarios.position_selector_figures(request_ids=ids, samples=500, progress=progress))
        progress.done(f"position: the selector alone, p99 {results['position_selector_p99_ms']} ms")
        results.update(
            http_scenarios.position_figures(
                queued=args.position_queue,
                duration=args.duration,
                runs=args.runs,
                port=args.port,
                progress=progress,
            )
        )
    if "availability" in wanted:
        results.update(
            http_scenarios.availability_figures(
                queued=args.availability_queue,
                duration=args.duration,
                runs=args.runs,
                port=args.port,
                progress=progress,
            )
        )
    if "ingest" in wanted:
        results.update(
            http_scenarios.ingest_figures(
                runs=args.runs, duration=args.duration, port=args.port, progress=progress
            )
        )
    if "onsale" in wanted:
        results.update(
            http_scenarios.onsale_figures(
                buyers=args.buyers, runs=args.runs, port=args.port, progress=progress
            )
        )
    if "cluster" in wanted:
        results.update(http_scenarios.cluster_figures(requests=args.requests, events=2, progress=progress))
    if "crowd" in wanted:
        from bench import crowd

        results.update(
            crowd.crowd_figures(
                buyers=args.crowd, window=args.crowd_window, runs=args.runs, progress=progress
            )
        )
    if "redisfault" in wanted:
        from bench import redisfault

        if shutil.which("redis-server"):
            results.update(redisfault.redisfault_figures(runs=args.runs, progress=progress))
        else:
            progress.done("redisfault: skipped, no redis-server on PATH")
    if "door" in wanted:
        from bench import door

        results.update(
            door.door_figures(tickets=args.door_tickets, runs=args.runs, port=args.port, progress=progress)
        )
    return results


def environment() -> dict:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0]
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgresql": server},
        "broker": "redis" if settings.REDIS_URL else "orm",
    }


def report(results: dict) -> str:
    rows = []
    for key, target, higher, unit in TARGETS:
        if key not in results:
            continue
        value = results[key]
        shown = f"{value:,.3f}" if isinstance(value, float) and value < 10 else f"{value:,.0f}"
        if target is None:
            goal, verdict = "", ""
        else:
            goal = f"{'>=' if higher else '<='} {target:,}"
            met = value >= target if higher else value <= target
            verdict = "ok" if met else "MISSED"
        rows.append((key, f"{shown} {unit}", goal, verdict))
    return table(rows)
