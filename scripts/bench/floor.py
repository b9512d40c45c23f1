"""The floor of `make bench`: the cheapest Django view, served by the same gunicorn as the project.

    gunicorn -c gunicorn.conf.py --pythonpath scripts/bench floor:application

One module is the whole app: settings, URLconf and WSGI entry point. No apps, no database, only
CommonMiddleware; `/` answers `{"ok": true}`. The benchmark's targets are ratios to this view's
throughput measured in the same run, so that a busy or slow machine cancels out.
"""

import os
import secrets

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    USE_TZ=True,
)


def ok(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("", ok)]

application = get_wsgi_application()
