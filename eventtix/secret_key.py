"""The site's secret key file: made once, readable by its owner alone, shared by every process.

`make setup` runs `python -m eventtix.secret_key PATH`; settings make it the same way when DEBUG
is on and none exists (never with DEBUG off: production has no default secret).
"""

import os
import secrets
import sys
from pathlib import Path


def read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def ensure(path: Path) -> str:
    """Write a new random key to path unless it already exists; return the key in the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process made it first: keep that key, so that all of them agree
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
    return read(path)


if __name__ == "__main__":
    ensure(Path(sys.argv[1]))
