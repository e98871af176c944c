"""Benchmark settings: the production settings, plus one trivial endpoint to compare against."""

import os

# The benchmark measures the production configuration: DEBUG off (it would also keep every
# query in memory), no HTTPS redirect on the loopback server.
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "q7w8e9" * 8)
os.environ.setdefault("EVENTTIX_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "bench"))
os.environ.setdefault("Q_LOG_LEVEL", "ERROR")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Its own names in a shared Redis: a task queue and cache keys no other EventTix reads.
os.environ.setdefault("CACHE_KEY_PREFIX", "eventtix-bench")

from eventtix.settings import *  # noqa: E402,F403

ROOT_URLCONF = "bench.urls"
# Static files are not served in the benchmark; no collectstatic manifest is needed.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
Q_CLUSTER = {**Q_CLUSTER, "name": "eventtix-bench"}  # noqa: F405
# Confirmations are rendered and handed to a backend that keeps them in memory: no mail server.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# WhiteNoise warns at start-up when the (unused here) collected-static directory is missing.
os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405
