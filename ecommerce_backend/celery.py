"""The Celery app. Tasks go to workers through CELERY_BROKER_URL (Redis or RabbitMQ);
with it unset they run inline (eager), so `make run` needs no broker.

    celery -A ecommerce_backend worker --beat --loglevel INFO     (or `make worker`)
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce_backend.settings")

app = Celery("ecommerce_backend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
