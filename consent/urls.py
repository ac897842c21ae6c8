from django.urls import path

from . import views

app_name = "consent"

urlpatterns = [
    path("", views.give, name="give"),
    path("selfie/", views.selfie, name="selfie"),
    path("withdraw/<str:purpose>/", views.withdraw, name="withdraw"),
    path("receipts/<uuid:record_id>/", views.receipt, name="receipt"),
    path("erase/", views.erase, name="erase"),
    path(
        "erasure-certificates/<uuid:request_id>/",
        views.erasure_certificate,
        name="erasure_certificate",
    ),
]
