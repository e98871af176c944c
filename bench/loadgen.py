"""An aiohttp load generator, run as its own process; prints one JSON line.

python -m bench.loadgen {ingest,trivial,position,availability,event_page} URL LINES SECONDS CONNECTIONS
    the fallback when wrk is missing: requests per second and latency for SECONDS; the
    anonymous reads (availability, event_page) take an event id per line
python -m bench.loadgen onsale URL LINES 0 CONNECTIONS
    every line ("token type_id quantity") posts one ticket request, once; each 202's
    request id and the wall-clock time it arrived
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


def main(argv: list[str]) -> None:
    script, url, path, seconds, connections = argv
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line]
    if script == "onsale":
        result = asyncio.run(onsale(url, lines, int(connections)))
    else:
        result = asyncio.run(timed(url, lines, script, float(seconds), int(connections)))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
