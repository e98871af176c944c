"""A one-line progress display on stderr, and the results table."""

import sys
import time


class Progress:
    """Redraws one status line on a terminal; elsewhere prints a line every few seconds."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.last_line = 0.0
        self.width = 0

    def update(self, stage: str, done: float | None = None, total: float | None = None, note: str = ""):
        elapsed = time.monotonic() - self.started
        text = f"[{elapsed:6.1f}s] {stage}"
        if total:
            share = min(1.0, (done or 0) / total)
            bar = "#" * int(share * 24)
            text += f" [{bar:<24}] {done:,.0f}/{total:,.0f}"
        if note:
            text += f" {note}"
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
            self.stream.flush()
        elif time.monotonic() - self.last_line >= 5 or done == total:
            self.stream.write(text + "\n")
            self.last_line = time.monotonic()

    def done(self, message: str):
        if self.tty:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[{elapsed:6.1f}s] {message}\n")
        self.stream.flush()


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """Rows of (figure, value, target, verdict) as an aligned text table."""
    header = ("figure", "value", "target", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)), line]
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    return "\n".join(out)
