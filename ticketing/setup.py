"""Records every installation needs: the door staff groups and the minute sweep."""

from django.contrib.auth.models import Group, Permission
from django_q.models import Schedule

DOOR_STAFF_GROUP = "Door staff"
# Door staff who may also undo a check-in and check a guest in by name (a lost phone).
DOOR_SUPERVISORS_GROUP = "Door supervisors"


def ensure_door_staff_group() -> Group:
    return _group(DOOR_STAFF_GROUP, ["check_in_ticket"])


def ensure_door_supervisors_group() -> Group:
    return _group(DOOR_SUPERVISORS_GROUP, ["check_in_ticket", "fix_check_ins"])


def _group(name: str, codenames: list[str]) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    permissions = Permission.objects.filter(content_type__app_label="ticketing", codename__in=codenames)
    group.permissions.add(*permissions)
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
    ensure_door_supervisors_group()
    ensure_sweep_schedule()
