"""The operator CLI: the seed's menu and the same operations as subcommands."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from ticketing.models import TicketRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", verbosity=0)


def run(*args, stdin=None, monkeypatch=None):
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("tix", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_availability_lists_capacity_sold_remaining_and_queued(demo):
    out = run("availability", "--event", "1")
    assert "Demo Event (id=1), sale open" in out
    assert "VIP                20      0         20       0" in out
    assert "Regular            80      0         80       0" in out


def test_enqueue_process_and_transactions(demo):
    out = run("enqueue", "--event", "1", "--type", "VIP", "--email", "demo@local.test", "--quantity", "2")
    assert "2 × VIP for demo@local.test, position 1" in out
    assert "1 fulfilled (2 tickets), 0 rejected" in run("process", "--until-empty")
    out = run("transactions", "--last", "10")
    assert "queued" in out and "fulfilled" in out and "demo@local.test" in out
    assert "VIP                20      2         18       0" in run("availability")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["availability", "--event", "99"], "No event with id 99"),
        (["enqueue", "--type", "Gold"], "has no ticket type 'Gold' (it has: VIP, Regular)"),
        (["enqueue", "--email", "nobody@example.test"], "No user with email 'nobody@example.test'"),
        (["enqueue", "--quantity", "9"], "1 to 4 Regular tickets at a time"),
    ],
)
def test_clear_errors_for_bad_arguments(demo, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert not TicketRequest.objects.exists()


def test_menu_runs_each_option_and_reprompts_on_bad_input(demo, monkeypatch):
    keys = "\n".join(["1", "1", "x", "2", "1", "VIP", "demo@local.test", "1", "3", "4", "5"]) + "\n"
    out = run(stdin=keys, monkeypatch=monkeypatch)
    assert out.count("EventTix operator menu") == 6
    assert "Please type a number from 1 to 5." in out
    assert "Queued request" in out
    assert "1 fulfilled (1 tickets)" in out
    assert "fulfilled" in out.split("4) Show last 10 transactions")[-2]


def test_menu_reports_errors_and_goes_on(demo, monkeypatch):
    keys = "\n".join(["2", "1", "VIP", "demo@local.test", "many", "5"]) + "\n"
    out = run(stdin=keys, monkeypatch=monkeypatch)
    assert "Quantity must be a whole number, not 'many'" in out


def test_menu_exits_cleanly_at_end_of_input(demo, monkeypatch):
    out = run(stdin="1\n\n", monkeypatch=monkeypatch)
    assert out.count("EventTix operator menu") == 2
    assert "Demo Event (id=1)" in out


def test_until_empty_stops_when_only_a_waiting_list_is_left(demo):
    from events.models import TicketType

    TicketType.objects.filter(name="VIP").update(capacity=2)
    run("enqueue", "--type", "VIP", "--email", "demo@local.test", "--quantity", "2")
    out = run(
        "enqueue", "--type", "VIP", "--email", "door@local.test", "--quantity", "1", "--wait-if-sold-out"
    )
    assert "on the waiting list" not in out  # queued: its turn has not come yet
    # The second request turns waiting at its turn; the loop ends although it is still waiting.
    assert "1 fulfilled (2 tickets), 0 rejected, 1 to the waiting list" in run("process", "--until-empty")
    assert TicketRequest.objects.filter(status="waiting").count() == 1
    assert re.search(r"VIP\s+2\s+2\s+0\s+0\s+1", run("availability"))


def test_menu_says_enqueue_makes_a_real_order_and_email(demo, monkeypatch):
    out = run(stdin="5\n", monkeypatch=monkeypatch)
    assert "2) Enqueue a request: creates a real order and sends a real email" in out
    assert out.rstrip().endswith("Bye.")


def test_menu_enqueue_refuses_an_unknown_event_before_asking_the_rest(demo, monkeypatch):
    out = run(stdin="2\n99\n5\n", monkeypatch=monkeypatch)
    assert "No event with id 99" in out
    # "5" reached the menu again (it was not taken as the ticket type): the menu shows twice.
    assert out.count("EventTix operator menu") == 2
    assert not TicketRequest.objects.exists()


def test_menu_enqueue_refuses_an_unknown_type_before_asking_the_rest(demo, monkeypatch):
    out = run(stdin="2\n1\nGold\n5\n", monkeypatch=monkeypatch)
    assert "has no ticket type 'Gold'" in out
    assert out.count("EventTix operator menu") == 2


def test_menu_enqueue_refuses_an_event_not_on_sale_before_asking_the_rest(demo, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from events.models import Event

    Event.objects.filter(pk=1).update(
        sale_opens_at=timezone.now() + timedelta(days=1), sale_closes_at=None, waiting_room_opens_at=None
    )
    out = run(stdin="2\n1\nVIP\n5\n", monkeypatch=monkeypatch)
    assert "Demo Event is not taking requests: Upcoming." in out
    assert out.count("EventTix operator menu") == 2
    assert not TicketRequest.objects.exists()


def test_menu_says_bye_at_ctrl_d(demo, monkeypatch):
    out = run(stdin="", monkeypatch=monkeypatch)
    assert out.rstrip().endswith("Bye.")


def test_ctrl_c_at_a_prompt_stops_with_code_130(demo, monkeypatch):
    def interrupted(prompt=""):
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", interrupted)
    out = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("tix", stdout=out, stderr=out)
    assert stopped.value.code == 130
    assert out.getvalue().rstrip().endswith("Stopped.")


def test_transactions_have_a_header_and_the_event_name(demo):
    run("enqueue", "--type", "VIP", "--email", "demo@local.test")
    lines = run("transactions").splitlines()
    assert lines[0].split() == ["#", "when", "(UTC)", "kind", "qty", "type", "event", "buyer"]
    assert "Demo Event" in lines[1] and "queued" in lines[1] and "demo@local.test" in lines[1]


def test_long_names_are_cut_to_fit_80_columns(demo, make_user):
    from events.models import Event, TicketType

    Event.objects.filter(pk=1).update(name="A Very Long Event Name " * 5)
    TicketType.objects.filter(name="VIP").update(name="Very Important Person Deluxe")
    make_user(email="someone.with.a.really.long.address@example.test")
    queued = run(
        "enqueue",
        "--type",
        "Very Important Person Deluxe",
        "--email",
        "someone.with.a.really.long.address@example.test",
    )
    assert max(len(line) for line in queued.splitlines()) <= 80
    assert "position 1." in queued
    out = run("availability") + run("transactions") + run("process")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Very Import… " in out and "A Very Long E… someone.with.a.re…" in out
