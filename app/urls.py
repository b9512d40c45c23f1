"""Routes of API v1, mounted at /api/v1/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from app import views

app_name = "api"

router = SimpleRouter()
router.register("users", views.UserViewSet, basename="user")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/login/", views.LoginView.as_view(), name="login"),
    path("auth/refresh/", views.RefreshView.as_view(), name="refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/profile/", views.ProfileView.as_view(), name="profile"),
    path("auth/password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    path("", include(router.urls)),
]
