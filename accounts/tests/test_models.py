import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError

pytestmark = pytest.mark.django_db


def test_email_is_stored_lowercase_and_logs_in_in_any_case(django_user_model):
    user = django_user_model.objects.create_user("Mixed.Case@Example.TEST", "Str0ng-Passw0rd!", name="M")
    assert user.email == "mixed.case@example.test"
    assert authenticate(username="MIXED.case@example.test", password="Str0ng-Passw0rd!") == user


def test_email_is_unique_whatever_its_case(django_user_model):
    django_user_model.objects.create_user("dup@example.test", "Str0ng-Passw0rd!", name="A")
    with pytest.raises(IntegrityError):
        # Bypasses the manager's lowercasing: the database itself refuses the twin.
        django_user_model.objects.create(email="DUP@example.test", name="B")


def test_createsuperuser_noinput_reads_the_environment(monkeypatch, django_user_model):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.test")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "R00t-Passw0rd!")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Root")
    call_command("createsuperuser", "--noinput", verbosity=0)
    user = django_user_model.objects.get(email="root@example.test")
    assert user.is_superuser and user.is_staff and user.name == "Root"
    assert user.check_password("R00t-Passw0rd!")
