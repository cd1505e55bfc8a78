from django.urls import path

from grading.api import views

urlpatterns = [
    path("grades/", views.GradeListApi.as_view(), name="grade-list"),
    path("schemes/", views.SchemeListApi.as_view(), name="scheme-list"),
    path("schemes/<int:pk>/", views.SchemeDetailApi.as_view(), name="scheme-detail"),
    path("runs/", views.RunListApi.as_view(), name="run-list"),
    path("runs/<int:pk>/", views.RunDetailApi.as_view(), name="run-detail"),
    path("snapshots/", views.SnapshotListApi.as_view(), name="snapshot-list"),
    path("grade-changes/", views.GradeChangeListApi.as_view(), name="gradechange-list"),
    path(
        "grade-changes/<int:pk>/", views.GradeChangeDetailApi.as_view(), name="gradechange-detail"
    ),
]
