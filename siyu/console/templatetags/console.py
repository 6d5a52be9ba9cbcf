from django import template
from django.utils.translation import gettext as _

from siyu.channels.base import UnknownChannel
from siyu.channels.registry import adapter_get
from siyu.core.events import EVENT_LABELS, EventType
from siyu.groups.models import MembershipRole

ROLE_LABELS = dict(MembershipRole.choices)

register = template.Library()


@register.filter
def event_label(event):
    return EVENT_LABELS.get(EventType(event.type), event.type)


@register.filter
def event_detail(event):
    """One line saying what the event carried, in the operator's language."""
    data = event.data or {}
    kind = EventType(event.type)
    if kind == EventType.GROUP_MESSAGE:
        return data.get("text", "")
    if kind in (EventType.ORDER_PAID, EventType.ORDER_REFUNDED):
        return _("¥%(amount)s · %(product)s") % {"amount": yuan(data.get("amount_cents", 0)), "product": data.get("product", "")}
    if kind in (EventType.GROUP_JOINED, EventType.LINK_EXPOSED) and data.get("code"):
        return _("via %(code)s") % {"code": data["code"]}
    if kind == EventType.GROUP_ROLE_CHANGED or (kind == EventType.GROUP_JOINED and data.get("role")):
        role = data.get("role", "")
        return _("role: %(role)s") % {"role": ROLE_LABELS.get(role, role)}
    if kind == EventType.MEMBER_PROFILE_UPDATED:
        return ", ".join(f"{k}={v}" for k, v in sorted(data.items()))
    if kind in (EventType.OUTBOX_SENT, EventType.OUTBOX_RETRY, EventType.OUTBOX_FAILED):
        return " · ".join(str(x) for x in (data.get("kind"), data.get("target"), data.get("error")) if x)
    return ""


@register.filter
def channel_label(name):
    """A channel's display name in the operator's language; unknown names as they are."""
    try:
        return adapter_get(name).label
    except UnknownChannel:
        return name


@register.filter
def yuan(cents):
    return f"{(cents or 0) / 100:,.2f}"


@register.simple_tag(takes_context=True)
def wsurl(context, name, *args):
    """A console URL inside the current workspace."""
    from django.urls import reverse

    return reverse(f"console:{name}", args=[context["request"].workspace.slug, *args])
