from django.urls import path

from customers.api import lines, views

urlpatterns = [
    path("customers/", views.CustomerListApi.as_view(), name="customer-list"),
    path("customers/bulk/", views.CustomerBulkApi.as_view(), name="customer-bulk"),
    path("customers/<key:code>/", views.CustomerDetailApi.as_view(), name="customer-detail"),
    path("orders/", views.OrderListApi.as_view(), name="order-list"),
    path("orders/bulk/", views.OrderBulkApi.as_view(), name="order-bulk"),
    path("order-lines/bulk/", lines.OrderLineBulkApi.as_view(), name="order-line-bulk"),
    path("orders/<key:order_no>/", views.OrderDetailApi.as_view(), name="order-detail"),
]
# One pair of URLs per engagement event kind (/api/events/complaints/, .../bulk/, ...).
for kind, (listing, bulk) in views.EVENT_APIS.items():
    urlpatterns += [
        path(f"events/{kind}/", listing.as_view(), name=f"event-list-{kind}"),
        path(f"events/{kind}/bulk/", bulk.as_view(), name=f"event-bulk-{kind}"),
    ]
