import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and the django-q2 cluster together; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
        parser.add_argument(
            "--dev", action="store_true", help="Django's runserver (auto-reload) instead of gunicorn."
        )

    def handle(self, *args, host, port, workers, dev, **options):
        manage = [sys.executable, "manage.py"]
        if dev or os.name == "nt":  # gunicorn does not run on Windows
            web = [*manage, "runserver", f"{host}:{port}", "--noreload"]
        else:
            web = [
                sys.executable, "-m", "gunicorn", "eventtix.wsgi",
                "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "10",
            ]  # fmt: skip
        # Own sessions: Ctrl-C reaches only this command, which stops each child through its
        # main process (signalling a qcluster's whole process group can hang it).
        children = [
            subprocess.Popen(web, start_new_session=True),
            subprocess.Popen([*manage, "qcluster"], start_new_session=True),
        ]
        self.stdout.write(f"EventTix on http://{host}:{port}/ with the task cluster beside it. Ctrl-C stops.")
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [child.args[2] for child in children if child.returncode not in (0, -signal.SIGTERM)]
        if failed and not stopping:
            raise SystemExit(f"stopped because a process exited: {failed}")
