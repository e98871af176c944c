"""An aiohttp load generator, run as its own process; prints one JSON line.

python -m bench.loadgen {ingest,trivial,position,availability,event_page} URL LINES SECONDS CONNECTIONS
    the fallback when wrk is missing: requests per second and latency for SECONDS; the
    anonymous reads (availability, event_page) take an event id per line
python -m bench.loadgen onsale URL LINES 0 CONNECTIONS
    every line ("token type_id quantity") posts one ticket request, once; each 202's
    request id and the wall-clock time it arrived
python -m bench.loadgen checkin URL LINES 0 CONNECTIONS
    the door: every line ("token code list_id") checks one ticket in, once; the lines of one
    token are one door client with its own pool of CONNECTIONS connections, the clients side by
    side; each answer's status and latency
python -m bench.loadgen sync URL LINES 0 0
    offline uploads: every line ("token list_id device scans_json") is one upload of up to 500
    scans; the lines of one device are uploaded in order, the devices side by side; each
    upload's answer
"""

import asyncio
import json
import random
import sys
import time

import aiohttp


def build(script: str, line: str) -> tuple[str, str, dict, bytes | None]:
    if script == "availability":
        return "GET", f"/api/availability?event_id={line.split()[0]}", {}, None
    if script == "event_page":
        return "GET", f"/events/{line.split()[0]}/", {}, None
    token, *rest = line.split()
    headers = {"Authorization": f"Bearer {token}"}
    if script in ("ingest", "onsale"):
        body = json.dumps({"ticket_type_id": int(rest[0]), "quantity": int(rest[1])}).encode()
        return "POST", "/api/ticket-requests", {**headers, "Content-Type": "application/json"}, body
    if script == "position":
        return "GET", f"/api/queue/position?request_id={rest[0]}", headers, None
    return "GET", "/bench/trivial", headers, None


async def timed(url: str, lines: list[str], script: str, seconds: float, connections: int) -> dict:
    latencies, failed, counter = [], 0, iter(range(10**9))
    deadline = time.monotonic() + seconds

    async def client(session):
        nonlocal failed
        while time.monotonic() < deadline:
            n = next(counter)
            line = random.choice(lines) if script == "position" else lines[n % len(lines)]
            method, path, headers, body = build(script, line)
            started = time.perf_counter()
            async with session.request(method, url + path, headers=headers, data=body) as response:
                await response.read()
                failed += response.status >= 300
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(client(session) for _ in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "non_2xx": failed,
        "socket_errors": 0,
    }


async def onsale(url: str, lines: list[str], connections: int) -> dict:
    accepted, refused = [], []
    pending = iter(lines)

    async def buyer(session):
        for line in pending:
            method, path, headers, body = build("onsale", line)
            async with session.request(method, url + path, headers=headers, data=body) as response:
                payload = await response.json()
                if response.status == 202:
                    accepted.append((payload["id"], time.time()))
                else:
                    refused.append(response.status)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(buyer(session) for _ in range(connections)))
        elapsed = time.monotonic() - started
    return {"accepted": accepted, "refused": refused, "seconds": elapsed}


def by_first_field(lines: list[str]) -> dict[str, list[str]]:
    """The lines grouped by their first field (a door client's token, a device), in order."""
    groups: dict[str, list[str]] = {}
    for line in lines:
        groups.setdefault(line.split(" ", 1)[0], []).append(line)
    return groups


async def checkin(url: str, lines: list[str], connections: int) -> dict:
    """Each door client (a token) posts its codes over its own pool, as fast as it is answered."""
    latencies, statuses, refused = [], {}, []

    async def scanner(session, pending):
        for line in pending:
            token, code, list_id = line.split()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            body = json.dumps({"check_in_list": int(list_id)}).encode()
            started = time.perf_counter()
            async with session.post(f"{url}/api/tickets/checkin/{code}", headers=headers, data=body) as r:
                payload = await r.read()
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status != 200 and len(refused) < 5:
                refused.append([r.status, payload.decode(errors="replace")[:200]])

    async def client(own_lines):
        pending = iter(own_lines)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
            await asyncio.gather(*(scanner(session, pending) for _ in range(connections)))

    started = time.monotonic()
    await asyncio.gather(*(client(own) for own in by_first_field(lines).values()))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "seconds": elapsed,
        "requests": len(latencies),
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "statuses": statuses,
        "refused": refused,
    }


async def sync(url: str, lines: list[str]) -> dict:
    """Each device uploads its batches one after the other, over its own connection."""
    uploads = []

    async def device(own_lines):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            for line in own_lines:
                index = lines.index(line)
                token, list_id, name, scans = line.split(" ", 3)
                body = json.dumps({"device": name, "scans": json.loads(scans)}).encode()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                timeout = aiohttp.ClientTimeout(total=600)
                path = f"{url}/api/check-in-lists/{list_id}/scans"
                async with session.post(path, headers=headers, data=body, timeout=timeout) as r:
                    text = await r.text()
                payload = json.loads(text) if r.status == 200 else text[:300]
                uploads.append({"line": index, "status": r.status, "answer": payload})

    started = time.monotonic()
    await asyncio.gather(*(device(own) for own in by_first_field(lines).values()))
    return {"seconds": time.monotonic() - started, "uploads": uploads}


def main(argv: list[str]) -> None:
    script, url, path, seconds, connections = argv
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line]
    if script == "onsale":
        result = asyncio.run(onsale(url, lines, int(connections)))
    elif script == "checkin":
        result = asyncio.run(checkin(url, lines, int(connections)))
    elif script == "sync":
        result = asyncio.run(sync(url, lines))
    else:
        result = asyncio.run(timed(url, lines, script, float(seconds), int(connections)))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
