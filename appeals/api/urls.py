from django.urls import path

from appeals.api import views

urlpatterns = [
    path("appeals/", views.AppealListApi.as_view(), name="appeal-list"),
    path("appeals/<int:pk>/", views.AppealDetailApi.as_view(), name="appeal-detail"),
]
