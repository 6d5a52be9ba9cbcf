"""WSGI entry point (waitress in `siyu serve`): short links on the fast path, the rest to Django."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings.base")
django_application = get_wsgi_application()

from siyu.links.fastpath import wsgi  # noqa: E402  (needs Django set up)

application = wsgi(django_application)
