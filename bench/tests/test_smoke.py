"""A tiny run of the benchmark's own code, so it cannot rot; it asserts correctness, never speed."""

import shutil
import socket
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from bench import alloc, database
from bench.scenarios import check_sold

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="make bench runs on PostgreSQL only; run with DATABASE_URL=postgres://...",
    ),
    pytest.mark.django_db(transaction=True),
]


class Quiet:
    """A progress display that shows nothing."""

    def update(self, *args, **kwargs):
        pass

    def done(self, message):
        pass


def test_the_drain_and_the_sql_reference_serve_identical_queues_completely():
    mine = database.seed_queue(requests=200, seed=1)
    reference = database.seed_queue(requests=200, seed=1)
    engine = alloc.EngineSteps(event_ids=mine.event_ids)
    sql = alloc.SqlSteps(conninfo=database.conninfo(), event_ids=reference.event_ids, batch_size=50)
    e = q = {"done": False}
    while not (e["done"] and q["done"]):
        e = engine.run(batches=2) if not e["done"] else e
        q = sql.run(batches=2) if not q["done"] else q
    assert e["requests"] == q["requests"] == 200
    assert e["tickets"] == q["tickets"] == mine.tickets == reference.tickets
    assert check_sold() == {"queued_left": 0, "oversold_types": 0, "tickets": 2 * mine.tickets}


def test_the_position_figure_measures_every_sampled_request():
    from bench.scenarios import position_selector_figures, seed_position_queue

    ids = seed_position_queue(queued=300)
    figures = position_selector_figures(request_ids=ids, samples=20, progress=Quiet())
    assert 0 < figures["position_selector_p50_ms"] <= figures["position_selector_p99_ms"]


@pytest.mark.slow
def test_the_availability_figure_reads_both_queues_over_http(monkeypatch):
    from bench.http_scenarios import availability_figures

    # The scenario's gunicorn serves this test's database, with the benchmark's settings.
    db = connection.settings_dict
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    monkeypatch.setenv("DATABASE_URL", f"postgres://{login}@{host}/{db['NAME']}")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "bench.settings")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    figures = availability_figures(queued=300, duration=2, runs=1, port=port, progress=Quiet())
    assert figures["availability_queued"] == 300
    keys = ("p50_ms_empty", "p99_ms_empty", "p50_ms_at_500k", "p99_ms_at_500k", "ratio_500k_vs_empty")
    for read in ("availability", "event_page"):
        assert all(figures[f"{read}_{key}"] > 0 for key in keys)
        assert figures[f"{read}_p50_ms_at_500k"] <= figures[f"{read}_p99_ms_at_500k"]


def test_the_benchmark_refuses_sqlite_and_never_touches_the_configured_database():
    with pytest.raises(SystemExit, match="PostgreSQL"):
        database.bench_database_url("sqlite:///var/eventtix.sqlite3")
    assert database.bench_database_url("postgres://u@h:5432/eventtix").endswith("/eventtix_bench")
    assert database.bench_database_url("postgres://u@h/eventtix_bench").endswith("/eventtix_bench")


def test_the_wrk_output_parser_reads_rate_latency_and_failures():
    from bench.web import parse_wrk

    out = """Running 2s test @ http://127.0.0.1:8500
  2 threads and 32 connections
  Latency Distribution
     50%    6.36ms
     75%    8.01ms
     90%    9.90ms
     99%    1.20s
  1234 requests in 2.00s, 1.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    617.00
"""
    got = parse_wrk(out)
    assert got == {
        "rps": 617.0,
        "requests": 1234,
        "p50_ms": 6.36,
        "p99_ms": 1200.0,
        "non_2xx": 3,
        "socket_errors": 0,
    }


def test_a_load_run_in_segments_counts_as_one():
    from bench.http_scenarios import combine

    base = {"p50_ms": 5.0, "non_2xx": 0, "socket_errors": 0, "tool": "wrk"}
    parts = [
        {**base, "rps": 400.0, "requests": 2000, "p99_ms": 30.0},
        {**base, "rps": 600.0, "requests": 3000, "p99_ms": 20.0, "non_2xx": 1},
    ]
    assert combine(parts) == {
        "rps": 500.0,
        "requests": 5000,
        "p99_ms": 30.0,
        "non_2xx": 1,
        "socket_errors": 0,
        "tool": "wrk",
    }


def test_seeded_buyers_hold_valid_tokens_and_no_usable_password():
    from rest_framework_simplejwt.tokens import AccessToken

    from bench.web import access_tokens

    seeded = database.seed_queue(requests=4, events=1, users=2)
    token = AccessToken(access_tokens([seeded.first_user])[0])
    assert int(token["user_id"]) == seeded.first_user
    with psycopg.connect(database.conninfo()) as conn:
        assert conn.execute("SELECT password FROM accounts_user LIMIT 1").fetchone()[0] == "!"
    assert connection.vendor == "postgresql"


def serve_this_test_database(monkeypatch) -> None:
    """`manage.py serve`, started by a figure, serves this test's database with the benchmark's settings."""
    db = connection.settings_dict
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    monkeypatch.setenv("DATABASE_URL", f"postgres://{login}@{host}/{db['NAME']}")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "bench.settings")


@pytest.mark.slow
def test_the_crowd_figure_follows_every_buyer_to_a_decision(monkeypatch):
    from bench.crowd import crowd_figures

    serve_this_test_database(monkeypatch)
    figures = crowd_figures(buyers=30, window=4, runs=1, progress=Quiet(), settle=30)
    [run] = figures["crowd_runs"]
    # Each buyer was accepted (one row each, every one decided) or refused at the door.
    assert run["accepted"] + run["refused"] == 30
    assert run["rows"] == run["accepted"] > 0
    assert figures["crowd_lost"] == figures["crowd_doubled"] == figures["crowd_undecided"] == 0
    assert run["polls"] >= run["accepted"]
    assert 0 < figures["crowd_join_p50_ms"] <= figures["crowd_join_p99_ms"]


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_the_redisfault_figure_stops_and_restarts_its_own_redis(monkeypatch):
    from bench.redisfault import Flood, redisfault_figures

    serve_this_test_database(monkeypatch)
    flood = Flood(rate=5, seconds=4, outage_at=1, outage_for=1.5, settle=20)
    figures = redisfault_figures(runs=1, progress=Quiet(), flood=flood, brokers=("orm",))
    [run] = figures["redisfault_orm_runs"]
    # Whatever the server does without Redis, every buyer is accounted for.
    assert sum(run["outcomes"].values()) == 20 and run["rows"] <= 20
    assert run["outage_s"] >= 1.5
    assert run["5xx"] == run["5xx_during_outage"] + run["5xx_outside_outage"]
    assert figures["redisfault_orm_doubled"] == 0


@pytest.mark.slow
def test_the_door_figure_admits_every_ticket_once_online_and_offline(monkeypatch):
    from bench.door import door_figures

    serve_this_test_database(monkeypatch)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # 41 offline tickets in uploads of 10: several batches per device, a short last one retried.
    figures = door_figures(tickets=30, sync_tickets=41, batch=10, runs=1, port=port, progress=Quiet())
    # door_figures raises unless each ticket was admitted exactly once and every retry changed nothing.
    assert figures["door_sync_scans"] == 41 + 5
    assert figures["door_checkins_per_s"] > 0
    assert 0 < figures["door_checkin_p50_ms"] <= figures["door_checkin_p99_ms"]
    assert figures["door_sync_seconds"] > 0


def test_the_door_sync_gives_each_ticket_one_device_and_one_in_ten_a_second_and_checks_every_verdict():
    from bench.door import offline_scans, upload_lines, verdicts

    found = [(n, f"code{n}") for n in range(1, 101)]
    scans = offline_scans(found, devices=4, seed=1)
    assert sum(map(len, scans)) == 110
    by_ticket = {}
    for device, device_scans in enumerate(scans):
        for scan in device_scans:
            by_ticket.setdefault(scan["ticket_id"], []).append(device)
    assert sorted(map(len, by_ticket.values())).count(2) == 10
    assert all(len(set(devices)) == len(devices) for devices in by_ticket.values())
    uploads = upload_lines(["t0", "t1", "t2", "t3"], 7, scans, batch=10)
    answer = [
        {"nonce": s["nonce"], "verdict": "admitted", "detail": "", "ticket_id": s["ticket_id"]}
        for s in uploads[0][1]
    ]
    out = {"uploads": [{"line": 0, "status": 200, "answer": {"results": answer}}]}
    with pytest.raises(AssertionError, match="not answered"):
        verdicts(out, uploads)
    out["uploads"][0]["answer"]["results"] = answer[:-1]
    with pytest.raises(AssertionError, match="verdicts for"):
        verdicts(out, uploads)
