"""WSGI entry point (gunicorn ecommerce_backend.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce_backend.settings")

application = get_wsgi_application()
