"""Start-up refuses an unsafe production configuration."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env_overrides):
    # A production start-up: nothing the test run itself put in the environment.
    dropped = {
        "SECRET_KEY",
        "DEBUG",
        "DJANGO_SETTINGS_MODULE",
        "SECURE_SSL_REDIRECT",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "PLAIN_HTTP",
    }
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DJANGO_SETTINGS_MODULE="eventtix.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("secret", ["", "short", "django-insecure-" + "a1b2c3" * 10, "a" * 60])
def test_debug_off_refuses_a_missing_or_weak_secret_key(secret, tmp_path):
    result = run_manage("check", DEBUG="false", SECRET_KEY=secret, EVENTTIX_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is missing or weak" in result.stderr


def test_debug_on_generates_and_keeps_a_development_secret(tmp_path):
    first = run_manage("check", DEBUG="true", EVENTTIX_DATA_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret-key").read_text()
    assert len(key) >= 50
    run_manage("check", DEBUG="true", EVENTTIX_DATA_DIR=str(tmp_path))
    assert (tmp_path / "secret-key").read_text() == key
    assert (tmp_path / "secret-key").stat().st_mode & 0o077 == 0


def test_debug_off_reads_the_secret_make_setup_wrote_and_never_writes_one(tmp_path):
    assert run_manage("check", DEBUG="false", EVENTTIX_DATA_DIR=str(tmp_path)).returncode != 0
    assert not (tmp_path / "secret-key").exists()
    (tmp_path / "secret-key").write_text("k9" + "Zq3-x7Lm_Pw2Rt8" * 4)
    shown = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY[:2], s.SECURE_SSL_REDIRECT)",
        DEBUG="false",
        EVENTTIX_DATA_DIR=str(tmp_path),
    )
    assert shown.stdout.splitlines()[-1].split() == ["False", "k9", "True"], shown.stderr


def test_plain_http_on_loopback_drops_the_https_only_settings(tmp_path):
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.DEBUG)"
    )
    shown = run_manage(
        "shell",
        "-c",
        code,
        DEBUG="false",
        PLAIN_HTTP="true",
        SECRET_KEY="k9" + "Zq3-x7Lm_Pw2Rt8" * 4,
        EVENTTIX_DATA_DIR=str(tmp_path),
    )
    assert shown.stdout.splitlines()[-1].split() == ["False", "0", "False", "False", "False"], shown.stderr


def test_check_deploy_is_clean_with_a_strong_secret(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k9" + "Zq3-x7Lm_Pw2Rt8" * 4,
        ALLOWED_HOSTS="tickets.example.org",
        EVENTTIX_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
