"""`manage.py serve` outlives a SIGKILLed task cluster and web server, and stops without leftovers."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from ticketing.models import TicketRequest
from ticketing.tests.processes import database_url, free_port, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc"),
]
ROOT = Path(__file__).resolve().parents[2]


def processes() -> dict[int, tuple[int, int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, session id, command line)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        state, ppid, _group, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if state != "Z":
            table[int(entry)] = (int(ppid), int(session), cmdline)
    return table


def marked(mark: str) -> list[int]:
    """Live processes started with mark in their environment: serve and all it started."""
    found = []
    for pid in processes():
        try:
            if f"\0{mark}\0".encode() in b"\0" + Path(f"/proc/{pid}/environ").read_bytes():
                found.append(pid)
        except OSError:  # gone meanwhile, or another user's
            pass
    return found


def child(parent: int, word: str, other_than: int | None = None) -> int | None:
    found = [pid for pid, (ppid, _, cmd) in processes().items() if ppid == parent and word in cmd]
    found = [pid for pid in found if pid != other_than]
    return found[0] if found else None


def get(url, body=None, token=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError as error:  # refused, reset, timed out: the site did not answer
        return repr(error), None


@pytest.fixture
def start_serve(tmp_path, settings):
    settings.TRANSACTIONS_CSV = tmp_path / "transactions.csv"
    started = []
    token = uuid.uuid4().hex  # marks serve and everything it starts
    mark = f"EVENTTIX_SERVE_TEST={token}"

    def start(*args):
        env = {
            **os.environ,
            "EVENTTIX_SERVE_TEST": token,
            "DJANGO_SETTINGS_MODULE": "eventtix.settings_test",
            "DATABASE_URL": database_url(),
            "EVENTTIX_DATA_DIR": str(settings.DATA_DIR),
            "TRANSACTIONS_CSV": str(settings.TRANSACTIONS_CSV),
            "Q_WORKERS": "1",
        }
        connections.close_all()
        log = open(tmp_path / f"serve-{len(started)}.log", "w+")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--workers", "2", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.output = lambda: Path(log.name).read_text()
        proc.leftovers = lambda: marked(mark)
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
    for pid in marked(mark):  # only when the test failed: never leave a cluster on the test database
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_serve_restarts_what_dies_and_stops_cleanly(start_serve, buyer, vip):
    port = free_port()
    serve = start_serve("--port", str(port))
    site = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: get(f"{site}/api/events")[0] == 200, timeout=30), serve.output()
    cluster = child(serve.pid, "qcluster")
    assert cluster, serve.output()
    os.kill(cluster, signal.SIGKILL)
    answers = []

    def cluster_is_back():
        answers.append(get(f"{site}/api/events")[0])
        return child(serve.pid, "qcluster", other_than=cluster)

    assert wait_for(cluster_is_back, timeout=20, interval=0.1), serve.output()
    assert set(answers) == {200}, answers
    # The cluster gives way to the web server on the CPUs, restarted or not (CLUSTER_NICE).
    back, web = child(serve.pid, "qcluster", other_than=cluster), child(serve.pid, "gunicorn")
    assert niceness(back) == min(19, niceness(serve.pid) + 10) and niceness(web) == niceness(serve.pid)
    if Path(f"/proc/{back}/autogroup").exists():
        assert Path(f"/proc/{back}/autogroup").read_text().split()[-1] == "10"
    assert "task cluster exited with code -9" in serve.output()
    # The killed cluster's sentinel and workers do not linger beside the new one.
    assert wait_for(lambda: not any(s == cluster for _, s, _ in processes().values()), timeout=10)

    # The restarted cluster serves a request made through the site.
    token = str(AccessToken.for_user(buyer))
    status, body = get(f"{site}/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": 1}, token)
    assert status == 202, (status, serve.output()[-3000:])
    decided = lambda: TicketRequest.objects.get(pk=body["id"]).status != "queued"  # noqa: E731
    assert wait_for(decided, timeout=30), serve.output()[-3000:]
    assert TicketRequest.objects.get(pk=body["id"]).status == "fulfilled"

    # A killed web server comes back too. (A request its dying workers had taken may be cut off,
    # as with any killed server; serve keeps the port, so later callers wait instead of being
    # refused.)
    web = child(serve.pid, "gunicorn")
    os.kill(web, signal.SIGKILL)
    assert wait_for(lambda: child(serve.pid, "gunicorn", other_than=web), timeout=20)
    assert wait_for(lambda: get(f"{site}/api/events")[0] == 200, timeout=20), serve.output()[-3000:]
    assert "web server exited with code -9" in serve.output()

    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=30) == 0, serve.output()[-3000:]
    assert not serve.leftovers(), {pid: processes().get(pid) for pid in serve.leftovers()}


@pytest.mark.parametrize("dev", [False, True], ids=["gunicorn", "runserver"])
def test_serve_gives_up_when_its_port_is_taken(start_serve, dev):
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        serve = start_serve("--port", str(port), *(["--dev"] if dev else []))
        assert serve.wait(timeout=60) != 0
    output = serve.output()
    assert ("is the port taken" if not dev else "3 times in a row; giving up") in output, output
    assert "CommandError" in output


def test_a_make_run_start_serves_production_pages_without_debug(tmp_path, event):
    """As `make run` starts it on a fresh clone: production settings, no DEBUG and no SECRET_KEY
    in the environment (the key is the file `make setup` writes), static files collected."""
    data = tmp_path / "var"
    data.mkdir()
    (data / "secret-key").write_text("k9" + "Zq3-x7Lm_Pw2Rt8" * 4)
    dropped = {"DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT", "PLAIN_HTTP", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DJANGO_SETTINGS_MODULE="eventtix.settings", DATABASE_URL=database_url(), Q_WORKERS="1")
    env.update(EVENTTIX_DATA_DIR=str(data), TRANSACTIONS_CSV=str(tmp_path / "transactions.csv"))
    manage = [sys.executable, "manage.py"]
    collected = subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env)
    assert collected.returncode == 0
    port = free_port()
    connections.close_all()
    with open(tmp_path / "serve.log", "w+") as log:
        proc = subprocess.Popen(
            [*manage, "serve", "--workers", "1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            site = f"http://127.0.0.1:{port}"
            assert wait_for(lambda: get(f"{site}/api/events")[0] == 200, timeout=30), Path(
                log.name
            ).read_text()
            with urllib.request.urlopen(f"{site}/events/", timeout=10) as response:
                page = response.read().decode()
                assert response.url == f"{site}/events/"  # no redirect to HTTPS on loopback
                assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            [stylesheet] = [part.split('"')[0] for part in page.split('href="')[1:] if "css/site." in part]
            assert stylesheet != "/static/css/site.css"  # the collected, hashed copy
            with urllib.request.urlopen(site + stylesheet, timeout=10) as response:
                assert response.status == 200 and b"{" in response.read()
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(f"{site}/no-such-page/", timeout=10)
            body = missing.value.read().decode()
            assert missing.value.code == 404 and "EventTix" in body
            assert "DEBUG" not in body and "URLconf" not in body
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_serve_names_the_address_it_serves_as_site_url_unless_one_is_given(monkeypatch):
    from ticketing.management.commands import serve

    monkeypatch.setattr(serve.socket, "getfqdn", lambda: "tix.example.test")
    cases = [
        ({}, "127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ({"SITE_URL": ""}, "localhost", 9000, "http://localhost:9000"),
        ({}, "::1", 8000, "http://[::1]:8000"),
        ({}, "[::1]", 8000, "http://[::1]:8000"),
        ({}, "0.0.0.0", 80, "http://tix.example.test:80"),
        ({"SITE_URL": "https://tickets.example.org"}, "127.0.0.1", 8123, "https://tickets.example.org"),
    ]
    for environ, host, port, expected in cases:
        serve.name_site_url(environ, host, port)
        assert environ["SITE_URL"] == expected, (host, port)


def test_the_children_of_serve_read_the_site_url_it_named():
    from ticketing.management.commands import serve

    environ = {"PATH": os.environ.get("PATH", "")}
    serve.name_site_url(environ, "127.0.0.1", 8765)
    code = "import django, os; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    env = {**os.environ, **environ, "DJANGO_SETTINGS_MODULE": "eventtix.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "http://127.0.0.1:8765", out.stderr[-2000:]
