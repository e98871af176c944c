"""Records every installation needs: the door staff group and the minute sweep."""

from django.contrib.auth.models import Group, Permission
from django_q.models import Schedule

DOOR_STAFF_GROUP = "Door staff"


def ensure_door_staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name=DOOR_STAFF_GROUP)
    permission = Permission.objects.get(content_type__app_label="ticketing", codename="check_in_ticket")
    group.permissions.add(permission)
    return group


def ensure_sweep_schedule() -> Schedule:
    # Wake-ups give sub-second service; this catches whatever a lost wake-up left behind.
    schedule, _ = Schedule.objects.update_or_create(
        name="eventtix-sweep",
        defaults={
            "func": "ticketing.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    return schedule


def ensure_setup(**kwargs) -> None:
    """post_migrate receiver: idempotent."""
    ensure_door_staff_group()
    ensure_sweep_schedule()
