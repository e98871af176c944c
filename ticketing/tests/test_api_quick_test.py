"""The README's Quick test, run line by line with curl against a live server."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from ticketing import services
from ticketing.demo import seed_demo

README = Path(settings.BASE_DIR) / "README.md"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("curl"), reason="needs curl"),
]


def quick_test_lines() -> list[str]:
    section = README.read_text().split("\n## Quick test\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def run_line(line: str, env: dict, tmp_path: Path) -> tuple[str, dict]:
    """Run one line in bash; variables it assigns are carried to the next line, as in a terminal."""
    env_file = tmp_path / "env"
    script = f'set -eo pipefail; set -a\n{line}\nenv -0 > "{env_file}"\n'
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (line, result.stdout, result.stderr)
    carried = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
    return result.stdout, carried


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_readme_quick_test_works_as_written(live_server, tmp_path):
    seed_demo()
    lines = quick_test_lines()
    assert lines[0] == "API=http://127.0.0.1:${PORT:-8000}/api"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": live_server.url.rsplit(":", 1)[1]}

    outputs = []
    for line in lines:
        # Stands in for the task cluster that `make run` starts beside the web server.
        services.drain_due_queues()
        output, env = run_line(line, env, tmp_path)
        outputs.append(output)

    by_path = dict(zip(lines, outputs, strict=True))

    def output_of(fragment: str) -> str:
        return next(out for line, out in by_path.items() if fragment in line)

    assert '"name":"VIP"' in output_of("/availability")
    assert '"email":"test@example.com"' in output_of("/auth/register")
    assert env["TOKEN"] and env["DOOR"] and env["QR"]
    position = next(out for line, out in by_path.items() if line.startswith('curl -s "$API/queue/position'))
    assert f'"request_id":{env["REQUEST"]},' in position and '"status":"fulfilled"' in position
    assert env["QR"] in output_of("curl -s $API/orders")
    assert '"valid":true' in output_of("/tickets/verify/")
    checkins = [out for line, out in zip(lines, outputs, strict=True) if "/tickets/checkin/" in line]
    assert '"checked_in":true' in checkins[0]
    assert '"code":"already_checked_in"' in checkins[1]
