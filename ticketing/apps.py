from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TicketingConfig(AppConfig):
    name = "ticketing"
    verbose_name = "Ticketing"

    def ready(self):
        from ticketing.setup import ensure_setup

        post_migrate.connect(ensure_setup, sender=self)
