from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The catalog API: users, categories, products and their images."""

    name = "app"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from app import signals  # noqa: F401  (connects the handlers)
