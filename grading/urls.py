from django.urls import path

from grading import views

app_name = "reports"

urlpatterns = [
    path("", views.reports_view, name="index"),
    path("what-if/<int:pk>/", views.scheme_what_if_view, name="what-if"),
    path("what-if/<int:pk>/activate/", views.scheme_activate_view, name="what-if-activate"),
]
