"""URLs of the customer portal, mounted at /portal/ (namespace "portal")."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from portal import views

app_name = "portal"

_REGISTRATION = "portal/registration"

urlpatterns = [
    path("", views.home, name="home"),
    path("grades/", views.grades, name="grades"),
    path("history/", views.history, name="history"),
    path("points/", views.points, name="points"),
    path("benefits/", views.benefits, name="benefits"),
    path("benefits/redeem/", views.benefit_redeem, name="benefit_redeem"),
    path("profile/", views.profile, name="profile"),
    path("appeals/", views.appeal_list, name="appeals"),
    path("appeals/new/<int:change_id>/", views.appeal_new, name="appeal_new"),
    path("appeals/<int:pk>/", views.appeal_detail, name="appeal_detail"),
    path("appeals/<int:pk>/withdraw/", views.appeal_withdraw, name="appeal_withdraw"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
    # Accounts: Django's auth views with portal templates. django-axes hooks authenticate(),
    # so this login locks out after repeated failures like the admin's.
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name=f"{_REGISTRATION}/login.html",
            next_page=reverse_lazy("portal:home"),
            extra_context={"section": "portal"},
        ),
        name="login",
    ),
    path(
        "logout/",
        auth_views.LogoutView.as_view(next_page=reverse_lazy("portal:login")),
        name="logout",
    ),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name=f"{_REGISTRATION}/password_reset_form.html",
            email_template_name=f"{_REGISTRATION}/password_reset_email.txt",
            subject_template_name=f"{_REGISTRATION}/password_reset_subject.txt",
            success_url=reverse_lazy("portal:password_reset_done"),
            extra_context={"section": "portal"},
        ),
        name="password_reset",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(
            template_name=f"{_REGISTRATION}/password_reset_done.html",
            extra_context={"section": "portal"},
        ),
        name="password_reset_done",
    ),
    # Also the invitation's set-password link (customers.services.accounts).
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name=f"{_REGISTRATION}/password_reset_confirm.html",
            success_url=reverse_lazy("portal:password_reset_complete"),
            extra_context={"section": "portal"},
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name=f"{_REGISTRATION}/password_reset_complete.html",
            extra_context={"section": "portal"},
        ),
        name="password_reset_complete",
    ),
]
