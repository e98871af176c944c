"""Run service calls in forked processes against the test database."""

import multiprocessing
import os
import traceback

from django.db import connections


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
