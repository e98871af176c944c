"""Reading the CSV transaction log back in tests."""

import csv
from pathlib import Path


def read_csv(path: Path) -> list[dict]:
    """The CSV log's rows as dictionaries; none if the file does not exist yet."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
