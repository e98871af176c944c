from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

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
        ("Profile", {"fields": ["name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
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

    @admin.action(description="Deactivate and log out everywhere")
    def deactivate(self, request, queryset):
        for user in queryset.order_by("pk"):
            services.deactivate_user(user=user)
        self.message_user(
            request, f"{queryset.count()} account(s) deactivated and logged out.", messages.SUCCESS
        )

    @admin.action(description="Log out everywhere")
    def log_out_everywhere(self, request, queryset):
        for user in queryset.order_by("pk"):
            services.revoke_all_sessions(user=user)
        self.message_user(request, f"{queryset.count()} account(s) logged out everywhere.", messages.SUCCESS)
