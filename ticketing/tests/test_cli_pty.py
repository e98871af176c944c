"""`manage.py tix` on a real terminal: Ctrl-C and Ctrl-D end it with a word, not a traceback."""

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CTRL_C = b"\x03"
CTRL_D = b"\x04"


@pytest.fixture
def tix():
    """`manage.py tix` in a child process on its own pseudo-terminal: (pid, terminal fd)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eventtix.settings_test",
        "EVENTTIX_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "manage.py", "tix"], env)
    yield pid, fd
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass  # it has already exited and been reaped
    os.close(fd)


def read_until(fd, text: str, timeout=60) -> str:
    """What the terminal shows until text appears (or the child ends); fails after a hang."""
    seen = b""
    while text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"no {text!r} within {timeout}s; the terminal showed {seen!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")


def interrupt(fd, *, gap=5.0, tries=6) -> str:
    """Ctrl-C, as a person presses it: again if nothing happens. What the terminal showed meanwhile.

    A ^C that lands after the prompt is written but before the read starts reaches Python only once
    the read returns, so a lone ^C can go unanswered (one run in a few did); a second one is seen.
    One is sent at a time, after `gap` seconds of no "Stopped.", so none lands on the way out.
    """
    seen = b""
    for _ in range(tries):
        os.write(fd, CTRL_C)
        deadline = time.monotonic() + gap
        while b"Stopped." not in seen and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child has closed the terminal
                return seen.decode(errors="replace")
            if not chunk:
                return seen.decode(errors="replace")
            seen += chunk
        if b"Stopped." in seen:
            break
    return seen.decode(errors="replace")


def finish(pid, fd) -> tuple[str, int]:
    """The rest of what the terminal shows, and the exit code."""
    rest = read_until(fd, "\0never\0")
    _, status = os.waitpid(pid, 0)
    return rest, os.waitstatus_to_exitcode(status)


def test_ctrl_c_at_the_menu_prompt_says_stopped_and_exits_130(tix):
    pid, fd = tix
    read_until(fd, "Choose 1-5:")
    shown = interrupt(fd)
    rest, code = finish(pid, fd)
    shown += rest
    assert "Stopped." in shown
    assert "Traceback" not in shown
    assert code == 130


def test_ctrl_c_in_the_middle_of_a_question_says_stopped_and_exits_130(tix):
    pid, fd = tix
    read_until(fd, "Choose 1-5:")
    os.write(fd, b"2\n")
    read_until(fd, "Event id [1]:")
    shown = interrupt(fd)
    rest, code = finish(pid, fd)
    shown += rest
    assert "Stopped." in shown and "Traceback" not in shown
    assert code == 130


def test_ctrl_d_at_the_menu_prompt_says_bye_and_exits_0(tix):
    pid, fd = tix
    read_until(fd, "Choose 1-5:")
    os.write(fd, CTRL_D)
    shown, code = finish(pid, fd)
    assert "Bye." in shown and "Traceback" not in shown
    assert code == 0
