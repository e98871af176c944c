"""Test settings: the real settings, with a test secret and fast password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x1y2z3" * 8)
os.environ["DEBUG"] = "false"  # the same suite whatever a local .env says
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("EVENTTIX_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test"))

from eventtix.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests serve static files from the sources, as development does (no collectstatic).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
