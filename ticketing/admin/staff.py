"""The user admin with the door roles as two checkboxes.

It extends accounts' user admin from here because accounts must not import ticketing, which
owns the door groups.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import UserAdmin, UserChangeAdminForm
from accounts.models import User
from ticketing.services import staff

DOOR_ROLES = ["door_staff", "door_supervisor"]


class DoorRolesForm(UserChangeAdminForm):
    door_staff = forms.BooleanField(
        required=False,
        label=_("Door staff"),
        help_text=_("May scan tickets on the door page; they do not need “Staff status” for that."),
    )
    door_supervisor = forms.BooleanField(
        required=False,
        label=_("Door supervisor"),
        help_text=_("Door staff who may also undo a check-in and check a guest in by name."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, held in staff.door_roles(user=self.instance).items():
            self.fields[name].initial = held


admin.site.unregister(User)


@admin.register(User)
class DoorRolesUserAdmin(UserAdmin):
    form = DoorRolesForm
    # Right after accounts' "Permissions", before its "Dates".
    fieldsets = [
        *UserAdmin.fieldsets[:-1],
        (
            _("Door"),
            {
                "fields": DOOR_ROLES,
                "description": _("These boxes win over the groups chosen above for the two door groups."),
            },
        ),
        UserAdmin.fieldsets[-1],
    ]

    def save_related(self, request, form, formsets, change):
        # After the groups field is saved, so the boxes have the last word on the door groups.
        super().save_related(request, form, formsets, change)
        if not set(DOOR_ROLES) <= set(form.cleaned_data):
            return  # the add form, which asks for the login only
        staff.set_door_roles(
            user=form.instance,
            door_staff=form.cleaned_data["door_staff"],
            door_supervisor=form.cleaned_data["door_supervisor"],
        )
