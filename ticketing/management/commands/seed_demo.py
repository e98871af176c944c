from django.core.management.base import BaseCommand

from ticketing.demo import DEMO_USER, DOOR_USER, STAFF_USER, seed_demo


class Command(BaseCommand):
    help = "Create the demo event, its VIP and Regular tickets, and the demo accounts (idempotent)."

    def handle(self, *args, **options):
        data = seed_demo()
        verb = "Created" if data.created else "Kept"
        self.stdout.write(f"{verb} {data.event.name} (id={data.event.pk}):")
        for ticket_type in data.event.ticket_types.all():
            self.stdout.write(
                f"  {ticket_type.name}: {ticket_type.sold}/{ticket_type.capacity} sold, "
                f"priority {ticket_type.priority}, {ticket_type.price}"
            )
        self.stdout.write("Accounts (email / password):")
        for label, (email, password, _) in [
            ("buyer", DEMO_USER),
            ("staff, admin and door", STAFF_USER),
            ("door only", DOOR_USER),
        ]:
            self.stdout.write(f"  {label}: {email} / {password}")
