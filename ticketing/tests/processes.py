"""Run calls at once, in forked processes or in threads, against the test database."""

import multiprocessing
import os
import socket
import threading
import traceback

from django.db import connection, connections


def _child(func, args):
    code = 0
    try:
        func(*args)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        connections.close_all()
    # Skip pytest's exit handlers inherited through fork.
    os._exit(code)


def run_in_processes(calls, timeout=180):
    """Run each (func, args) in its own process, all at once; fail if any fails or hangs."""
    connections.close_all()  # a connection must never be shared across fork
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(func, args)) for func, args in calls]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert not hung, f"processes {hung} did not finish (deadlock?)"
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    assert not failed, f"child processes failed with {failed}; see their tracebacks above"


def database_url() -> str:
    """The test database as a DATABASE_URL a child process can open."""
    from pathlib import Path

    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def start_qcluster(**env_overrides):
    """Start `manage.py qcluster` on the test database, in its own process group."""
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eventtix.settings_test",
        "DATABASE_URL": database_url(),
        "EVENTTIX_DATA_DIR": str(settings.DATA_DIR),
        **env_overrides,
    }
    connections.close_all()
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop_qcluster(proc, timeout=30):
    """Stop gracefully: SIGTERM to the main process (signalling the whole group can hang it)."""
    import signal
    import subprocess

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        kill_qcluster(proc)
        return proc.communicate()[0]


def kill_qcluster(proc):
    """SIGKILL the cluster and every worker, as a crash or an OOM kill would."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wait_for(predicate, timeout=60.0, interval=0.05):
    """Poll until predicate() is true; the bound only keeps a broken run from hanging."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def in_parallel(calls: int, send) -> list[int]:
    """Run send() from `calls` threads released at once; return the statuses."""
    start = threading.Barrier(calls)
    statuses = []

    def worker():
        start.wait()
        try:
            statuses.append(send())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a request hung (deadlock?)"
    return statuses


def free_port() -> int:
    """A local TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
