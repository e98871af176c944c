"""The door's figures (issue 14): online check-ins per second, and offline scans uploaded at once.

Both run against the gunicorn server the other HTTP figures use, with the load from
`python -m bench.loadgen` in its own process, and check afterwards that every ticket was admitted
exactly once.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time

import psycopg

from bench import database, web
from bench.scenarios import check_sold

CLIENTS = 4  # door clients (online) and devices (offline), each its own door staff account
CONNECTIONS_PER_CLIENT = 8  # each online client's pool: 32 connections in all, as in the other figures
SYNC_TICKETS = 5_000
TWICE_SHARE = 10  # one ticket in this many is also scanned offline by a second device
BATCH = 500  # scans per upload, the API's maximum


def seed_tickets(*, tickets: int, seed: int) -> tuple[int, int]:
    """An open event with exactly `tickets` valid tickets (requests of 4 seeded, then drained);
    returns the event's id and its default check-in list's id."""
    from events.models import Event
    from ticketing.services import default_list, drain_event_queue

    quantities = [4] * (tickets // 4) + ([tickets % 4] if tickets % 4 else [])
    seeded = database.seed_queue(requests=0, events=1, seed=seed, quantities=quantities)
    [event_id] = seeded.event_ids
    while drain_event_queue(event_id=event_id, time_budget=60).more:
        pass
    check_sold()
    with psycopg.connect(database.conninfo()) as conn:
        made = conn.execute(
            "SELECT count(*) FROM ticketing_ticket t JOIN events_tickettype tt ON tt.id = t.ticket_type_id"
            " WHERE tt.event_id = %s AND t.status = 'valid'",
            (event_id,),
        ).fetchone()[0]
    if made != tickets:
        raise AssertionError(f"door: seeded {made} valid tickets, not {tickets}")
    return event_id, default_list(Event.objects.get(pk=event_id)).pk


def door_staff(count: int, *, seed: int) -> list[str]:
    """`count` new members of the "Door staff" group; an access token for each."""
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from ticketing.services import can_check_in
    from ticketing.setup import ensure_door_staff_group

    group = ensure_door_staff_group()
    tokens = []
    for n in range(count):
        user = get_user_model().objects.create_user(
            email=f"door{seed}-{n}-{os.urandom(3).hex()}@bench.test", password=None, name=f"Door {n}"
        )
        user.groups.add(group)
        user = get_user_model().objects.get(pk=user.pk)  # no cached permissions
        if not can_check_in(user):
            raise AssertionError(f"door: {user.email} may not check tickets in")
        tokens.append(str(AccessToken.for_user(user)))
    return tokens


def codes(event_id: int) -> list[tuple[int, str]]:
    """(id, qr_token) of the event's tickets, in id order."""
    with psycopg.connect(database.conninfo()) as conn:
        return conn.execute(
            "SELECT t.id, t.qr_token FROM ticketing_ticket t"
            " JOIN events_tickettype tt ON tt.id = t.ticket_type_id WHERE tt.event_id = %s ORDER BY t.id",
            (event_id,),
        ).fetchall()


def door_counts(event_id: int, list_id: int) -> dict:
    """What the door wrote for the event: entries on the list, active ones, tickets with one, the
    largest number of active entries of one ticket, checked-in tickets and the types' counter."""
    with psycopg.connect(database.conninfo()) as conn:
        rows, active, tickets = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE active), count(DISTINCT ticket_id) FILTER (WHERE active)"
            " FROM ticketing_checkin WHERE check_in_list_id = %s",
            (list_id,),
        ).fetchone()
        most = conn.execute(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM ticketing_checkin"
            " WHERE check_in_list_id = %s AND active GROUP BY ticket_id) per_ticket",
            (list_id,),
        ).fetchone()[0]
        checked_in = conn.execute(
            "SELECT count(*) FROM ticketing_ticket t JOIN events_tickettype tt ON tt.id = t.ticket_type_id"
            " WHERE tt.event_id = %s AND t.status = 'checked_in'",
            (event_id,),
        ).fetchone()[0]
        counted = conn.execute(
            "SELECT coalesce(sum(checked_in), 0) FROM ticketing_tickettypecounter WHERE event_id = %s",
            (event_id,),
        ).fetchone()[0]
        audit = conn.execute("SELECT count(*) FROM ticketing_auditentry").fetchone()[0]
    return {
        "rows": rows,
        "active": active,
        "tickets_inside": tickets,
        "most_active_per_ticket": most,
        "checked_in": checked_in,
        "counter": counted,
        "audit_entries": audit,
    }


def loadgen(script: str, url: str, lines: list[str], connections: int = 0) -> dict:
    path = web.write_lines(lines)
    try:
        cmd = [sys.executable, "-m", "bench.loadgen", script, url, path, "0", str(connections)]
        return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    finally:
        os.unlink(path)


def checkin_run(url: str, *, tickets: int, run: int, runs: int, progress) -> dict:
    """4 door clients check every ticket of a fresh event in once between them."""
    database.reset()
    progress.update(f"door run {run}/{runs}: seeding {tickets:,} tickets")
    event_id, list_id = seed_tickets(tickets=tickets, seed=100 + run)
    tokens = door_staff(CLIENTS, seed=run)
    found = codes(event_id)
    random.Random(run).shuffle(found)
    # Ticket i goes to client i % 4: each ticket is scanned once, by one client.
    lines = [f"{tokens[i % CLIENTS]} {code} {list_id}" for i, (_, code) in enumerate(found)]
    # Every worker opens its connection and reads the door's users before the figure.
    web.load(
        url=url, script="trivial", lines=tokens, duration=2, connections=CLIENTS * CONNECTIONS_PER_CLIENT
    )
    progress.update(f"door run {run}/{runs}: {CLIENTS} clients checking in {tickets:,} tickets")
    out = loadgen("checkin", url, lines, CONNECTIONS_PER_CLIENT)
    statuses = {int(k): v for k, v in out["statuses"].items()}
    if statuses != {200: tickets}:
        raise AssertionError(f"door: answers {statuses} for {tickets} tickets: {out['refused']}")
    got = door_counts(event_id, list_id)
    expected = {"rows": tickets, "active": tickets, "tickets_inside": tickets, "most_active_per_ticket": 1}
    expected.update(checked_in=tickets, counter=tickets)
    if {k: got[k] for k in expected} != expected:
        raise AssertionError(f"door: after {tickets:,} check-ins the door shows {got}")
    return {"rate": tickets / out["seconds"], "p50_ms": out["p50_ms"], "p99_ms": out["p99_ms"]}


def offline_scans(found: list[tuple[int, str]], *, devices: int, seed: int) -> list[list[dict]]:
    """Each device's scans: every ticket by one device, one in TWICE_SHARE also by the next one,
    later; each device's in the order it made them."""
    now = time.time()
    scans = [[] for _ in range(devices)]
    for i, (ticket_id, code) in enumerate(found):
        made = [(i % devices, now - 3600 + i * 0.1)]
        if i % TWICE_SHARE == 0:
            made.append(((i + 1) % devices, now - 1800 + i * 0.1))
        for device, at in made:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
            nonce = f"s{seed}-d{device}-t{ticket_id}"
            scans[device].append({"nonce": nonce, "code": code, "scanned_at": stamp, "ticket_id": ticket_id})
    for device_scans in scans:
        device_scans.sort(key=lambda s: s["scanned_at"])
    return scans


def upload_lines(tokens, list_id, scans, *, batch: int, last_only: bool = False) -> list[tuple[str, list]]:
    """One line per upload ("token list_id device scans_json"), with the scans it carries."""
    out = []
    for device, (token, device_scans) in enumerate(zip(tokens, scans, strict=True)):
        batches = [device_scans[i : i + batch] for i in range(0, len(device_scans), batch)]
        for part in batches[-1:] if last_only else batches:
            sent = [{k: s[k] for k in ("nonce", "code", "scanned_at")} for s in part]
            out.append((f"{token} {list_id} phone-{device} {json.dumps(sent, separators=(',', ':'))}", part))
    return out


def verdicts(out: dict, uploads: list[tuple[str, list]]) -> dict[str, tuple]:
    """Each scan's (verdict, ticket_id, detail), checking each upload answered each of its scans once."""
    answers = {}
    for upload in out["uploads"]:
        line, sent = uploads[upload["line"]]
        if upload["status"] != 200:
            raise AssertionError(f"door sync: an upload answered {upload['status']}: {upload['answer']}")
        results = upload["answer"]["results"]
        if [r["nonce"] for r in results] != [s["nonce"] for s in sent]:
            raise AssertionError(f"door sync: {len(results)} verdicts for {len(sent)} scans, or out of order")
        for scan, r in zip(sent, results, strict=True):
            if r["nonce"] in answers:
                raise AssertionError(f"door sync: scan {r['nonce']} answered twice")
            if r["verdict"] in ("admitted", "admitted_twice") and r["ticket_id"] != scan["ticket_id"]:
                raise AssertionError(f"door sync: scan {r['nonce']} admitted ticket {r['ticket_id']}")
            answers[r["nonce"]] = (r["verdict"], r["ticket_id"], r["detail"])
    if len(answers) != sum(len(sent) for _, sent in uploads):
        raise AssertionError("door sync: some uploads were not answered")
    return answers


def sync_run(url: str, *, tickets: int, batch: int, run: int, runs: int, progress) -> dict:
    """4 devices upload their offline scans of a fresh event at once, then each retries its last."""
    event_id, list_id = seed_tickets(tickets=tickets, seed=200 + run)
    tokens = door_staff(CLIENTS, seed=1000 + run)
    found = codes(event_id)
    random.Random(run).shuffle(found)
    scans = offline_scans(found, devices=CLIENTS, seed=run)
    total = sum(map(len, scans))
    twice = len(found[::TWICE_SHARE])
    before = door_counts(event_id, list_id)
    uploads = upload_lines(tokens, list_id, scans, batch=batch)
    progress.update(f"door run {run}/{runs}: {CLIENTS} devices uploading {total:,} offline scans")
    out = loadgen("sync", url, [line for line, _ in uploads])
    answers = verdicts(out, uploads)
    tally = {}
    for verdict, _, _ in answers.values():
        tally[verdict] = tally.get(verdict, 0) + 1
    if tally != {"admitted": tickets, "admitted_twice": twice}:
        raise AssertionError(f"door sync: verdicts {tally} for {tickets} tickets, {twice} scanned twice")
    admitted = {ticket_id for verdict, ticket_id, _ in answers.values() if verdict == "admitted"}
    if admitted != {ticket_id for ticket_id, _ in found}:
        raise AssertionError("door sync: not every ticket was admitted exactly once")
    after = door_counts(event_id, list_id)
    expected = {"rows": total, "active": tickets, "tickets_inside": tickets, "most_active_per_ticket": 1}
    expected.update(checked_in=tickets, counter=tickets)
    if {k: after[k] for k in expected} != expected:
        raise AssertionError(f"door sync: after {total:,} scans the door shows {after} (before: {before})")
    progress.update(f"door run {run}/{runs}: each device retries its last upload")
    retries = upload_lines(tokens, list_id, scans, batch=batch, last_only=True)
    again = verdicts(loadgen("sync", url, [line for line, _ in retries]), retries)
    changed = {n: (answers[n], v) for n, v in again.items() if answers[n] != v}
    if changed:
        raise AssertionError(f"door sync: a retry answered differently: {list(changed.items())[:3]}")
    if door_counts(event_id, list_id) != after:
        raise AssertionError(f"door sync: the retries changed {after} to {door_counts(event_id, list_id)}")
    return {"seconds": out["seconds"], "scans": total, "retried": len(again)}


def door_figures(
    *, tickets: int, runs: int, port: int, progress, sync_tickets: int = SYNC_TICKETS, batch: int = BATCH
) -> dict:
    """Check-ins per second through the API, and an offline sync of 4 devices; medians of `runs`."""
    checkins, syncs = [], []
    with web.Server(port) as server:
        for run in range(1, runs + 1):
            c = checkin_run(server.url, tickets=tickets, run=run, runs=runs, progress=progress)
            checkins.append(c)
            progress.done(
                f"door run {run}/{runs}: {tickets:,} check-ins by {CLIENTS} clients, {c['rate']:,.0f}/s"
                f" (p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms); each ticket admitted once"
            )
            s = sync_run(server.url, tickets=sync_tickets, batch=batch, run=run, runs=runs, progress=progress)
            syncs.append(s)
            progress.done(
                f"door run {run}/{runs}: {s['scans']:,} offline scans from {CLIENTS} devices synced in"
                f" {s['seconds']:.1f} s; verdicts exact, {s['retried']:,} retried scans changed nothing"
            )
    return {
        "door_checkins_per_s": round(statistics.median(c["rate"] for c in checkins)),
        "door_checkin_p50_ms": round(statistics.median(c["p50_ms"] for c in checkins), 1),
        "door_checkin_p99_ms": round(statistics.median(c["p99_ms"] for c in checkins), 1),
        "door_sync_seconds": round(statistics.median(s["seconds"] for s in syncs), 2),
        "door_sync_scans": syncs[0]["scans"],
        "door_tickets": tickets,
        "door_runs": {
            "checkins_per_s": [round(c["rate"]) for c in checkins],
            "checkin_p50_ms": [round(c["p50_ms"], 1) for c in checkins],
            "checkin_p99_ms": [round(c["p99_ms"], 1) for c in checkins],
            "sync_seconds": [round(s["seconds"], 2) for s in syncs],
        },
        "door_setup": {
            "clients": CLIENTS,
            "connections_per_client": CONNECTIONS_PER_CLIENT,
            "sync_tickets": sync_tickets,
            "sync_batch": batch,
            "gunicorn_workers": web.gunicorn_workers(),
        },
    }
