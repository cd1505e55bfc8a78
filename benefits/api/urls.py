from django.urls import path

from benefits.api import views

app_name = "benefits-api"

urlpatterns = [
    path("", views.BenefitListApi.as_view(), name="benefit-list"),
    path(
        "customers/<key:customer_code>/entitlements/",
        views.EntitlementListApi.as_view(),
        name="entitlement-list",
    ),
    path("redemptions/", views.RedemptionListApi.as_view(), name="redemption-list"),
    path("redeem/", views.RedeemApi.as_view(), name="redeem"),
]
