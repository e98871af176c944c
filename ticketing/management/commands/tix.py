import textwrap

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from events.models import Event, TicketType
from ticketing import selectors, services
from ticketing.errors import TicketingError

MENU = """
EventTix operator menu
  1) View availability
  2) Enqueue a request: creates a real order and sends a real email
  3) Process next tick once
  4) Show last 10 transactions
  5) Exit"""

WIDTH = 80
# The shell's code for a command ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


def wrap(text: str) -> str:
    """A message broken into lines that fit the terminal, the later ones indented."""
    return textwrap.fill(text, WIDTH, subsequent_indent="  ")


def fit(text, width: int) -> str:
    """The text cut to width characters, an ellipsis marking the cut."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


class Command(BaseCommand):
    help = "The operator CLI: the seed's menu without arguments, or one operation as a subcommand."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action")
        p = sub.add_parser(
            "availability", help="Capacity, sold, remaining, queued and waiting per ticket type."
        )
        p.add_argument("--event", type=int, default=1)
        p = sub.add_parser("enqueue", help="Put a request in the queue for a user.")
        p.add_argument("--event", type=int, default=1)
        p.add_argument("--type", dest="type_name", default="Regular", help="Ticket type name, e.g. VIP.")
        p.add_argument("--email", default="demo@local.test")
        p.add_argument("--quantity", type=int, default=1)
        p.add_argument(
            "--wait-if-sold-out", action="store_true", help="Join the waiting list if too few are left."
        )
        p = sub.add_parser("process", help="Serve one batch of every event's queue and waiting lists.")
        p.add_argument(
            "--until-empty",
            action="store_true",
            help="Keep serving until the queues are empty (waiting lists wait for tickets to come back).",
        )
        p = sub.add_parser("transactions", help="The newest transactions.")
        p.add_argument("--last", type=int, default=10)

    def handle(self, *args, action=None, **options):
        try:
            if action is None:
                return self.menu()
            getattr(self, action)(**{k: v for k, v in options.items() if k in _ARGS[action]})
        except TicketingError as exc:
            raise CommandError(exc.message) from None
        except KeyboardInterrupt:
            # Ctrl-C is how an operator leaves: a word, not a traceback.
            self.stdout.write("\n" + _("Stopped."))
            raise SystemExit(INTERRUPTED) from None

    def availability(self, *, event):
        event_obj = _event(event)
        state = f" (id={event_obj.pk}), sale {event_obj.sale_state()}"
        self.stdout.write(fit(event_obj.name, WIDTH - len(state)) + state)
        self.stdout.write(
            f"  {'type':<12}{'capacity':>9}{'sold':>7}{'remaining':>11}{'queued':>8}{'waiting':>9}"
        )
        for t in selectors.ticket_types_with_queue(event_id=event_obj.pk):
            name = fit(t.name, 12)
            self.stdout.write(
                f"  {name:<12}{t.capacity:>9}{t.sold:>7}{t.remaining:>11}{t.queued:>8}{t.waiting:>9}"
            )

    def enqueue(self, *, event, type_name, email, quantity, wait_if_sold_out=False):
        ticket_type = _ticket_type(_event(event), type_name)
        user = _user(email)
        request = services.enqueue_request(
            user=user, ticket_type_id=ticket_type.pk, quantity=quantity, wait_if_sold_out=wait_if_sold_out
        )
        position = selectors.queue_position(ticket_request=request)
        if position.waiting_list:
            place = f"on the waiting list, position {position.position}"
        elif position.waiting_room:
            place = "in the waiting room"
        else:
            place = f"position {position.position}"
        verb = "Waiting" if position.waiting_list else "Queued"
        self.stdout.write(
            wrap(f"{verb} request #{request.pk}: {quantity} × {ticket_type.name} for {user.email}, {place}.")
        )

    def process(self, *, until_empty):
        totals = {}
        while True:
            results = services.drain_due_queues(time_budget=None if until_empty else 0)
            for event_id, r in results.items():
                total = totals.setdefault(event_id, services.DrainResult())
                for name in ("fulfilled", "rejected", "waiting", "cancelled", "tickets"):
                    setattr(total, name, getattr(total, name) + getattr(r, name))
                total.more = r.more
            moved = any(r.batches for r in results.values())  # a batch is counted only if it decided
            # A round that decided nothing means the queues are empty (or wait for the sale to open).
            if not until_empty or not moved:
                break
        if not totals:
            self.stdout.write("Nothing queued.")
        for event_id, r in totals.items():
            self.stdout.write(
                wrap(
                    f"Event {event_id}: {r.fulfilled} fulfilled ({r.tickets} tickets), "
                    f"{r.rejected} rejected, {r.waiting} to the waiting list"
                    + (", more queued" if r.more else "")
                )
            )
        services.flush_transactions_csv()

    def transactions(self, *, last):
        rows = list(selectors.recent_transactions(limit=last))
        if not rows:
            self.stdout.write("No transactions yet.")
            return
        self.stdout.write(
            _TRANSACTION_ROW.format(
                "#", _("when (UTC)"), _("kind"), _("qty"), _("type"), _("event"), _("buyer")
            )
        )
        for t in reversed(rows):
            row = _TRANSACTION_ROW.format(
                fit(t.pk, 6),
                f"{t.created_at:%m-%d %H:%M}",
                fit(t.kind, 12),
                t.quantity,
                fit(t.ticket_type.name if t.ticket_type else "-", 10),
                fit(t.event.name if t.event else "-", 14),
                t.user.email if t.user else "-",
            )
            self.stdout.write(fit(row.rstrip(), WIDTH))
            if t.reason:
                self.stdout.write(fit(f"       {_('reason')}: {t.reason}", WIDTH))

    def menu(self):
        actions = {
            "1": lambda: self.availability(event=self._ask_int("Event id", 1)),
            "2": self.enqueue_from_prompts,
            "3": lambda: self.process(until_empty=False),
            "4": lambda: self.transactions(last=10),
        }
        while True:
            self.stdout.write(MENU)
            try:
                choice = input("Choose 1-5: ").strip()
                if choice == "5":
                    self.stdout.write(_("Bye."))
                    return
                if choice not in actions:
                    self.stdout.write("Please type a number from 1 to 5.")
                    continue
                actions[choice]()
            except EOFError:
                # Ctrl-D, or the end of piped input.
                self.stdout.write("\n" + _("Bye."))
                return
            except (CommandError, TicketingError) as exc:
                self.stderr.write(wrap(f"Error: {getattr(exc, 'message', exc)}"))

    def enqueue_from_prompts(self):
        """The menu's enqueue: each answer is checked before the next question is asked."""
        event = _event(self._ask_int("Event id", 1))
        ticket_type = _ticket_type(event, self._ask("Ticket type", "Regular"))
        state = event.sale_state()
        if not state.takes_requests:
            raise CommandError(
                _("%(event)s is not taking requests: %(state)s.")
                % {"event": event.name, "state": state.label}
            )
        email = _user(self._ask("Buyer email", "demo@local.test")).email
        self.enqueue(
            event=event.pk, type_name=ticket_type.name, email=email, quantity=self._ask_int("Quantity", 1)
        )

    def _ask(self, label, default):
        return input(f"{label} [{default}]: ").strip() or str(default)

    def _ask_int(self, label, default):
        raw = self._ask(label, default)
        try:
            return int(raw)
        except ValueError:
            raise CommandError(f"{label} must be a whole number, not {raw!r}.") from None


_ARGS = {
    "availability": {"event"},
    "enqueue": {"event", "type_name", "email", "quantity", "wait_if_sold_out"},
    "process": {"until_empty"},
    "transactions": {"last"},
}


# id, time, kind, quantity, type, event, buyer: 62 characters before the buyer's email.
_TRANSACTION_ROW = "{:<6} {:<11} {:<12} {:>3} {:<10} {:<14} {}"


def _ticket_type(event: Event, type_name: str) -> TicketType:
    ticket_type = event.ticket_types.filter(name__iexact=type_name).first()
    if ticket_type is None:
        names = ", ".join(event.ticket_types.values_list("name", flat=True))
        raise CommandError(f"{event.name} has no ticket type {type_name!r} (it has: {names}).")
    return ticket_type


def _user(email: str):
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is None:
        raise CommandError(f"No user with email {email!r}.")
    return user


def _event(event_id: int) -> Event:
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise CommandError(f"No event with id {event_id}.")
    return event
