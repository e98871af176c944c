"""Door roles: which users belong to the door staff and door supervisors groups."""

from django.db import transaction

from ticketing import setup


def door_roles(*, user) -> dict[str, bool]:
    """Whether the user is door staff and whether a door supervisor."""
    names = set(user.groups.values_list("name", flat=True)) if user.pk else set()
    return {
        "door_staff": setup.DOOR_STAFF_GROUP in names,
        "door_supervisor": setup.DOOR_SUPERVISORS_GROUP in names,
    }


@transaction.atomic
def set_door_roles(*, user, door_staff: bool, door_supervisor: bool) -> None:
    """Put the user in, or take them out of, the door staff and door supervisors groups."""
    for group, wanted in (
        (setup.ensure_door_staff_group(), door_staff),
        (setup.ensure_door_supervisors_group(), door_supervisor),
    ):
        if wanted:
            user.groups.add(group)
        else:
            user.groups.remove(group)
