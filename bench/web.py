"""The HTTP figures' plumbing: a gunicorn server, JWTs for seeded buyers, and the load generator."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LUA = Path(__file__).with_name("wrk")
# The wrk script behind each load: buyers.lua and reads.lua read BENCH_TARGET to know which request
# to send.
WRK_SCRIPTS = {
    "ingest": "buyers.lua",
    "trivial": "buyers.lua",
    "position": "position.lua",
    "availability": "reads.lua",
    "event_page": "reads.lua",
}


def gunicorn_workers() -> int:
    """gunicorn's own advice: two workers per core plus one."""
    return 2 * (os.cpu_count() or 1) + 1


class Server:
    """gunicorn serving the project (with the benchmark's trivial endpoint) on a local port."""

    def __init__(self, port: int, workers: int | None = None):
        self.port = port
        self.workers = workers or gunicorn_workers()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None

    def __enter__(self):
        cmd = [
            sys.executable, "-m", "gunicorn", "eventtix.wsgi",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--worker-class", "sync", "--backlog", "2048", "--log-level", "warning",
        ]  # fmt: skip
        # Its own session, so stopping it never signals the benchmark itself.
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/events", timeout=2).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("gunicorn exited at start-up") from None
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer on port {self.port}")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def access_tokens(user_ids: list[int]) -> list[str]:
    """A valid JWT access token for each user, signed as the login endpoint would sign it."""
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user_model = get_user_model()
    return [str(AccessToken.for_user(user_model(pk=pk, is_active=True))) for pk in user_ids]


def find_wrk() -> str | None:
    """wrk from PATH; on a Debian machine where we are root, installed with apt-get first."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
        install = ["apt-get", "install", "-y", "-qq", "wrk"]
        if subprocess.run(install, **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], **quiet)
            subprocess.run(install, **quiet)
    return shutil.which("wrk")


def write_lines(lines: list[str]) -> str:
    fd, path = tempfile.mkstemp(suffix=".txt", prefix="eventtix-bench-")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def load(
    *, url: str, script: str, lines: list[str], duration: float, connections: int = 32, threads: int = 2
) -> dict:
    """Requests per second, latency percentiles and failures of one load run against url.

    Each line (a token and the request's details) is used by one request, in turn. wrk with a
    Lua script when it is there; otherwise bench.loadgen, an aiohttp client, in its own process.
    """
    path = write_lines(lines)
    try:
        wrk = find_wrk()
        if wrk:
            env = {**os.environ, "BENCH_LINES": path, "BENCH_THREADS": str(threads), "BENCH_TARGET": script}
            cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
                   "-s", str(LUA / WRK_SCRIPTS[script]), url]  # fmt: skip
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            return {**parse_wrk(out), "tool": "wrk"}
        cmd = [sys.executable, "-m", "bench.loadgen", script, url, path, str(duration), str(connections)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        import json

        return {**json.loads(out.strip().splitlines()[-1]), "tool": "aiohttp"}
    finally:
        os.unlink(path)


def parse_wrk(out: str) -> dict:
    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    percentiles = {p: ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M)}
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": percentiles.get("50"),
        "p99_ms": percentiles.get("99"),
        "non_2xx": int(failed.group(1)) if failed else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }
