"""The plain Django view of /s/<slug>; the lead's fast path answers the same URLs without Django's stack."""
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .redirect import visit


def short_link(request: HttpRequest, slug: str) -> HttpResponse:
    """Resolve a visit (links.redirect.visit) and answer it: a redirect or Siyu's page with the status."""
    result = visit(
        host=request.get_host(),
        slug=slug,
        query=request.GET.dict(),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        referer=request.META.get("HTTP_REFERER", ""),
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        language="en" if request.META.get("HTTP_ACCEPT_LANGUAGE", "").lower().startswith("en") else "zh-hans",
    )
    response: HttpResponse
    if result.location is not None:
        response = HttpResponseRedirect(result.location)
    else:
        response = HttpResponse(result.page, status=result.status, content_type="text/html; charset=utf-8")
    # Every visit must reach us to be counted, and a code's target changes: nothing may cache the answer.
    response["Cache-Control"] = "no-store"
    return response
