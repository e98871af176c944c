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
