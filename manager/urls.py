"""URLs of the account managers' queue, mounted at /manager/ (namespace "manager")."""

from django.urls import path

from manager import views

app_name = "manager"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("export.csv", views.queue_export, name="export"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path(
        "customers/<int:pk>/recommendations/<int:recommendation_pk>/",
        views.recommendation_close,
        name="recommendation_close",
    ),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
]
