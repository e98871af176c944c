"""A tiny run of the benchmark's own code, so it cannot rot; it asserts correctness, never speed."""

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

    class Quiet:
        def update(self, *args, **kwargs):
            pass

    ids = seed_position_queue(queued=300)
    figures = position_selector_figures(request_ids=ids, samples=20, progress=Quiet())
    assert 0 < figures["position_selector_p50_ms"] <= figures["position_selector_p99_ms"]


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
