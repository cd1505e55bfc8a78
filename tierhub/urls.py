"""Root URLconf: admin, API, language switch and the people-facing pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from backoffice import views as backoffice_views
from common import views as common_views
from common.tokens import StaffTokenApi

# The staff login lands each person by role (backoffice.views.staff_login), under the admin's
# own URL name and namespace.
admin.site.login = backoffice_views.staff_login  # type: ignore[method-assign]

urlpatterns = [
    # Everyone lands at home: the root and the staff login route by role (backoffice.views).
    path("", backoffice_views.landing, name="landing"),
    path("admin/", admin.site.urls),
    # Django's language switch, which also remembers a logged-in person's choice.
    path("i18n/setlang/", common_views.language_set, name="set_language"),
    path("portal/", include("portal.urls")),
    path("manager/", include("manager.urls")),
    path("reports/", include("grading.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline: CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/token/", StaffTokenApi.as_view(), name="api-token"),
    path("api/", include(("customers.api.urls", "customers_api"), namespace="customers-api")),
    path("api/", include(("grading.api.urls", "grading_api"), namespace="grading-api")),
    path("api/", include(("appeals.api.urls", "appeals_api"), namespace="appeals-api")),
    path("api/benefits/", include("benefits.api.urls")),
]

# A URL under /api/ that no route matches answers with the API's JSON error body too.
handler404 = "common.api.not_found_handler"
