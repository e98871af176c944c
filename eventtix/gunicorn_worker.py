"""gunicorn's threaded worker, noting when each connection is handed to its thread pool.

`manage.py serve` runs gunicorn with this class (`--worker-class eventtix.gunicorn_worker.ThreadWorker`).
It overrides two methods of gunicorn's ThreadWorker, which is gunicorn's own code rather than a
documented API: ticketing/tests/test_shedding.py starts a real gunicorn with it, so an upgrade that
changes them fails there.
"""

import time

from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from eventtix import load


class ThreadWorker(GunicornThreadWorker):
    def enqueue_req(self, conn):
        conn.eventtix_queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn):
        load.queued(getattr(conn, "eventtix_queued_at", None))
        try:
            return super().handle(conn)
        finally:
            load.queued(None)
