"""The pages speak the visitor's language (German, Spanish or English), and the catalogues are whole."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

from ticketing import services

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
# %(name)s and %(count)d (Python), {n} (the door's scripts), %% (a literal percent sign).
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|%%")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_afterwards():
    # LocaleMiddleware leaves the last request's language active in this thread; the next
    # module's tests call services directly and expect English.
    yield
    translation.activate(settings.LANGUAGE_CODE)


def page(client, path, language):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, path
    return response.content.decode()


@pytest.mark.parametrize(
    "language, words",
    [
        ("de", ['<html lang="de">', "<h1>Anmelden</h1>", "Passwort vergessen?", "E-Mail-Adresse"]),
        ("es", ['<html lang="es">', "<h1>Iniciar sesión</h1>", "¿Has olvidado tu contraseña?", "Contraseña"]),
        ("en", ['<html lang="en">', "<h1>Log in</h1>", "Forgot your password?", "Email address"]),
    ],
)
def test_the_login_page_speaks_the_browsers_language(client, language, words):
    html = page(client, "/accounts/login/", language)
    for word in words:
        assert word in html


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "de-DE,de;q=0.9,en;q=0.5",
            ['<html lang="de">', ">Veranstaltungen</a>", ">Registrieren</a>", "Sprache"],
        ),
        ("es-ES,es;q=0.9", ['<html lang="es">', ">Eventos</a>", ">Registrarse</a>", "Idioma"]),
    ],
)
def test_the_event_list_speaks_the_browsers_language(client, event, language, words):
    html = page(client, "/events/", language)
    for word in words:
        assert word in html


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "de",
            ["Kamera aus", "Gast nach Namen suchen", 'data-uploads-other="{n} Scans warten'],
        ),
        ("es", ["Desactivar cámara", "Buscar a una persona por su nombre", 'data-online="En línea"']),
    ],
)
def test_the_door_page_and_its_scripts_words_are_translated(client, supervisor, event, language, words):
    check_in_list = services.default_list(event)
    client.force_login(supervisor)
    html = page(client, f"/door/{check_in_list.pk}/", language)
    for word in words:
        assert word in html


def test_an_unknown_language_falls_back_to_english(client):
    html = page(client, "/accounts/login/", "fr-FR,fr;q=0.9")
    assert '<html lang="en">' in html and "<h1>Log in</h1>" in html


def test_the_footer_switches_the_language_and_the_choice_sticks(client, event):
    html = page(client, "/events/?page=1", "en")
    assert 'action="/i18n/setlang/"' in html and 'name="next" value="/events/"' in html
    assert "{#" not in html and "comment %}" not in html

    response = client.post("/i18n/setlang/", {"language": "es", "next": "/events/"})

    assert response.status_code == 302 and response["Location"] == "/events/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    # The cookie wins over the browser's own preference, on this page and the next.
    assert ">Eventos</a>" in page(client, "/events/", "de")
    assert "<h1>Iniciar sesión</h1>" in page(client, "/accounts/login/", "de")


def test_a_language_the_site_does_not_offer_is_not_kept(client):
    client.post("/i18n/setlang/", {"language": "xx", "next": "/events/"})
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies


def test_an_api_refusal_is_in_the_callers_language(api):
    response = api.get("/api/no-such-route", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 404
    assert response.json() == {"detail": "Nicht gefunden.", "code": "not_found"}


def test_a_service_refusal_is_translated_at_the_moment_it_is_raised(buyer, event):
    from ticketing import errors

    with translation.override("es"), pytest.raises(errors.TicketingError) as refused:
        services.enqueue_request(user=buyer, ticket_type_id=10**9, quantity=1)
    assert refused.value.message == "No hay ningún tipo de entrada con el id 1000000000."


def test_there_is_a_catalogue_for_each_offered_language_but_english():
    offered = {code for code, _ in settings.LANGUAGES} - {"en"}
    assert {path.parts[-3] for path in CATALOGUES} == offered


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-3])
def test_every_catalogue_is_compiled_and_no_older_than_its_source(path):
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"{compiled} is missing: `make test` (or `make setup`) compiles it"
    assert compiled.stat().st_mtime >= path.stat().st_mtime, f"{compiled} is stale: run `make test`"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-3])
def test_every_message_is_translated_and_none_is_fuzzy(path):
    with path.open("rb") as po:
        catalogue = read_po(po)
    assert not catalogue.fuzzy, "the header is marked fuzzy"
    untranslated = [m.id for m in catalogue if m.id and not all(forms(m.string))]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == []
    assert len(catalogue) > 100


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-3])
def test_every_translation_keeps_the_placeholders_of_its_message(path):
    with path.open("rb") as po:
        catalogue = read_po(po)
    wrong = []
    for message in catalogue:
        if not message.id:
            continue
        wanted = sorted(PLACEHOLDER.findall(forms(message.id)[-1]))
        for text in forms(message.string):
            if sorted(PLACEHOLDER.findall(text)) != wanted:
                wrong.append((message.id, text))
    assert wrong == []


def test_the_placeholder_check_catches_a_dropped_placeholder():
    assert sorted(PLACEHOLDER.findall("%(name)s is in, {n} left")) == ["%(name)s", "{n}"]
    assert PLACEHOLDER.findall("Nombre fuera") == []


def forms(value) -> list[str]:
    """A message's text as a list: one item, or one per plural form."""
    return list(value) if isinstance(value, (list, tuple)) else [value]
