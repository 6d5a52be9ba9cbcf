"""The webhook path for the plain Django stack (the production server answers it in channels.webhooks first)."""
from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .base import HookRequest
from .webhooks import MAX_BODY_BYTES, webhook_answer, webhook_ingest


@csrf_exempt
def webhook(request: HttpRequest, channel: str, token: str) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)
    body = request.read(MAX_BODY_BYTES + 1)
    hook = HookRequest(
        method=request.method, query=dict(parse_qsl(request.META.get("QUERY_STRING", ""))),
        headers={name.lower(): value for name, value in request.headers.items()}, body=body,
    )
    answer = webhook_answer(channel=channel, token=token, request=hook)
    if answer.verified is not None:
        webhook_ingest(channel=channel, verified=answer.verified, request=hook)
    return HttpResponse(answer.body, status=answer.status, content_type="text/plain; charset=utf-8")
