"""Routes of API v1, mounted at /api/v1/."""

from django.urls import path

from app import views

app_name = "api"

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
]
