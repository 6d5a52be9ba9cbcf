"""ASGI entry point (uvicorn siyu.asgi:application): webhooks and short links on fast paths, the rest to Django."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings.base")
django_application = get_asgi_application()

from siyu.channels.webhooks import webhooks_asgi  # noqa: E402  (needs Django set up)
from siyu.links.fastpath import asgi  # noqa: E402

application = webhooks_asgi(asgi(django_application))
