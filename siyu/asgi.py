"""ASGI entry point (uvicorn siyu.asgi:application): short links on the fast path, the rest to Django."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings.base")
django_application = get_asgi_application()

from siyu.links.fastpath import asgi  # noqa: E402  (needs Django set up)

application = asgi(django_application)
