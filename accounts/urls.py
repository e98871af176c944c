from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.forms import LoginForm
from eventtix import throttling

urlpatterns = [
    path("", views.account, name="account"),
    path("log-out-everywhere/", views.log_out_everywhere, name="log_out_everywhere"),
    path(
        "login/",
        throttling.throttle_page(throttling.LOGIN)(views.LoginView.as_view(authentication_form=LoginForm)),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path(
        "password-reset/",
        throttling.throttle_page(throttling.PASSWORD_RESET)(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
]
