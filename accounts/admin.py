from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy, ngettext

from accounts import services
from accounts.forms import AdminPasswordChangeForm
from accounts.models import User


class UserChangeAdminForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    change_password_form = AdminPasswordChangeForm
    actions = ["deactivate", "log_out_everywhere"]
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (gettext_lazy("Profile"), {"fields": ["name", "language"]}),
        (
            gettext_lazy("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (gettext_lazy("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "name", "usable_password", "password1", "password2"]},
        ),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # A closed account's sessions and tokens end with it.
            services.revoke_all_sessions(user=obj)

    @admin.action(description=gettext_lazy("Deactivate and log out everywhere"))
    def deactivate(self, request, queryset):
        for user in queryset.order_by("pk"):
            services.deactivate_user(user=user)
        count = queryset.count()
        message = ngettext(
            "%(count)d account deactivated and logged out.",
            "%(count)d accounts deactivated and logged out.",
            count,
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Log out everywhere"))
    def log_out_everywhere(self, request, queryset):
        for user in queryset.order_by("pk"):
            services.revoke_all_sessions(user=user)
        count = queryset.count()
        message = ngettext(
            "%(count)d account logged out everywhere.", "%(count)d accounts logged out everywhere.", count
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
