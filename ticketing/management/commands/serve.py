"""`manage.py serve`: the web server and the django-q2 cluster, each restarted whenever it dies."""

import functools
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

FIRST_DELAY, MAX_DELAY = 0.5, 10.0  # restart back-off, doubling after each exit
STABLE_AFTER = 60.0  # a child that stayed up this long starts again from FIRST_DELAY
QUICK_EXIT, QUICK_EXITS_TO_GIVE_UP = 5.0, 3  # the web server failing to boot this often gives up
STOP_TIMEOUT = 15.0
BACKLOG = 2048  # a crowd of new connections waits in the kernel's queue instead of being refused
GUNICORN_OPTIONS = [
    # gunicorn's threaded worker, noting how long each request waits for a thread, so that new
    # ticket requests can be refused fast under overload (eventtix/gunicorn_worker.py).
    *("--worker-class", "eventtix.gunicorn_worker.ThreadWorker", "--threads", "12"),
    *("--backlog", str(BACKLOG), "--keep-alive", "5"),
    *("--access-logfile", "-", "--graceful-timeout", "10"),
    # gunicorn 27 opens ~/.gunicorn/gunicorn.ctl by default; two servers would fight over it.
    "--no-control-socket",
]


def is_loopback(host: str) -> bool:
    """Whether the address is this machine's own (127.0.0.0/8, ::1 or localhost)."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def served_url(host: str, port: int) -> str:
    """The address serve's web server answers on, as a link reaches it: "http://127.0.0.1:8000"."""
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0", "::"):
        bare = socket.getfqdn()  # every address of this machine: its name is the one to link to
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


def name_site_url(environ, host: str, port: int) -> None:
    """Unless the environment names SITE_URL, give the children the address served, so that the
    links in emails reach this server (serve --port 8080 links to port 8080)."""
    if not environ.get("SITE_URL"):
        environ["SITE_URL"] = served_url(host, port)


def lower_priority(nice: int) -> None:
    """In a child about to start: give way to the other processes on the CPUs by `nice` (0-19).

    The child has its own session, and Linux schedules each session as a group of its own
    (autogroup) that shares the CPUs equally with the others, whatever its processes' niceness:
    so the group's niceness is lowered too, where the kernel has groups.
    """
    os.nice(nice)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass  # not Linux, or no autogroup: the processes' niceness is enough


class Child:
    """One child process in its own session, started again with a back-off whenever it exits."""

    def __init__(self, name, args, write, give_up=False, pass_fds=(), nice=0):
        self.name, self.args, self.write, self.give_up, self.pass_fds = name, args, write, give_up, pass_fds
        self.nice = nice
        self.proc, self.started, self.restart_at = None, 0.0, 0.0
        self.delay, self.quick_exits = 0.0, 0

    def tend(self):
        """Start the child when its back-off is over, note its exit; False once it has given up."""
        now = time.monotonic()
        if self.proc is None:
            if now >= self.restart_at:
                # Own session: Ctrl-C reaches only serve, which stops each child through its main process.
                own = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else {}
                if self.nice and os.name != "nt":
                    own["preexec_fn"] = functools.partial(lower_priority, self.nice)  # serve has no threads
                self.proc = subprocess.Popen(self.args, start_new_session=True, pass_fds=self.pass_fds, **own)
                self.started = now
            return True
        code = self.proc.poll()
        if code is None:
            return True
        self.sweep()
        up = now - self.started
        first = up >= STABLE_AFTER or not self.delay
        self.delay = FIRST_DELAY if first else min(self.delay * 2, MAX_DELAY)
        self.quick_exits = self.quick_exits + 1 if up < QUICK_EXIT else 0
        self.proc, self.restart_at = None, now + self.delay
        how = f"{self.name} exited with code {code} after {up:.1f} s"
        if self.give_up and self.quick_exits >= QUICK_EXITS_TO_GIVE_UP:
            self.write(f"{how}, {self.quick_exits} times in a row; giving up")
            return False
        self.write(f"{how}; restarting it in {self.delay:g} s")
        return True

    def sweep(self):
        """SIGKILL what a dead child left in its session (a killed qcluster's sentinel and workers)."""
        if os.name != "nt":
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)

    def wait(self, deadline):
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.write(f"{self.name} did not stop within {STOP_TIMEOUT:g} s; killing it")
            self.proc.kill()
            self.proc.wait()
        self.sweep()


class Command(BaseCommand):
    help = "Run the web server and the django-q2 cluster together, restarting either when it dies."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
        parser.add_argument("--dev", action="store_true", help="Django's runserver instead of gunicorn.")
        parser.add_argument(
            "--reload", action="store_true", help="With --dev: restart the web server when code changes."
        )

    def write(self, line):
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args, host, port, workers, dev, reload, **options):
        manage = [sys.executable, "manage.py"]
        fds = ()
        if is_loopback(host):
            # Only this machine can reach it, over plain HTTP: no HTTPS redirect or Secure-only
            # cookies for the children (eventtix/settings.py), unless the environment says otherwise.
            os.environ.setdefault("PLAIN_HTTP", "true")
        name_site_url(os.environ, host, port)
        if dev or os.name == "nt":  # gunicorn does not run on Windows
            # With --reload, serve's sweep ends the reloader's child with the reloader.
            web = [*manage, "runserver", f"{host}:{port}", *([] if dev and reload else ["--noreload"])]
        else:
            # serve holds the listening socket: a port clash shows at once, and connections made
            # while gunicorn restarts wait in the backlog instead of being refused.
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                listener = socket.create_server((host.strip("[]"), port), family=family, backlog=BACKLOG)
            except OSError as error:
                raise CommandError(
                    f"cannot listen on {host}:{port} ({error.strerror}); is the port taken?"
                ) from None
            fds = (listener.fileno(),)
            web = [sys.executable, "-m", "gunicorn", "eventtix.wsgi", "--bind", f"fd://{fds[0]}"]
            web += ["--workers", str(workers), *GUNICORN_OPTIONS]
        web = Child("web server", web, self.write, give_up=True, pass_fds=fds)
        # Below the web server in the CPU's queue: on sale day a buyer's answer comes before the
        # drain's next batch and the emails, which wait a few milliseconds more (CLUSTER_NICE).
        nice = settings.EVENTTIX_CLUSTER_NICE
        cluster = Child("task cluster", [*manage, "qcluster"], self.write, nice=nice)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.write(f"EventTix on http://{host}:{port}/ with the task cluster beside it. Ctrl-C stops.")
        running = True
        while running and not stopping:
            running = all([web.tend(), cluster.tend()])  # a list: tend both on every pass
            time.sleep(0.2)
        for child in (web, cluster):
            child.stop()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in (web, cluster):
            child.wait(deadline)
        if not running:
            raise CommandError(
                f"the web server failed within {QUICK_EXIT:g} s of starting {QUICK_EXITS_TO_GIVE_UP} "
                "times in a row (see its errors above); stopped."
            )
