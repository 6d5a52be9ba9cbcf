from django.utils.translation import gettext as _

from .base import UnknownChannel

_adapters = {}


def register(adapter):
    _adapters[adapter.name] = adapter
    return adapter


def adapter_get(name):
    """The adapter for a channel name; UnknownChannel with the known names if there is none."""
    try:
        return _adapters[name]
    except KeyError:
        raise UnknownChannel(
            _("Unknown channel %(name)r; known channels: %(known)s") % {"name": name, "known": ", ".join(sorted(_adapters))}
        ) from None


def adapter_kinds(name):
    """The kinds the channel's adapter can do, or None for an unknown channel (core.kinds asks this)."""
    adapter = _adapters.get(name)
    return adapter.kinds if adapter is not None else None


def adapter_names():
    return sorted(_adapters)
