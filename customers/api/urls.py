from django.urls import path

from customers.api import views

urlpatterns = [
    path("customers/", views.CustomerListApi.as_view(), name="customer-list"),
    path("customers/bulk/", views.CustomerBulkApi.as_view(), name="customer-bulk"),
    path("customers/<str:code>/", views.CustomerDetailApi.as_view(), name="customer-detail"),
    path("orders/", views.OrderListApi.as_view(), name="order-list"),
    path("orders/bulk/", views.OrderBulkApi.as_view(), name="order-bulk"),
    path("orders/<str:order_no>/", views.OrderDetailApi.as_view(), name="order-detail"),
    path("events/<str:kind>/", views.EventListApi.as_view(), name="event-list"),
    path("events/<str:kind>/bulk/", views.EventBulkApi.as_view(), name="event-bulk"),
]
