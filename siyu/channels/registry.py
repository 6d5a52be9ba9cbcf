from django.utils.translation import gettext as _

from typing import TypeVar

from .base import ChannelAdapter, UnknownChannel

A = TypeVar("A", bound=ChannelAdapter)
_adapters: dict[str, ChannelAdapter] = {}


def register(adapter: A) -> A:
    _adapters[adapter.name] = adapter
    return adapter


def adapter_get(name: str) -> ChannelAdapter:
    """The adapter for a channel name; UnknownChannel with the known names if there is none."""
    try:
        return _adapters[name]
    except KeyError:
        raise UnknownChannel(
            _("Unknown channel %(name)r; known channels: %(known)s") % {"name": name, "known": ", ".join(sorted(_adapters))}
        ) from None


def adapter_kinds(name: str) -> frozenset[str] | None:
    """The kinds the channel's adapter can do, or None for an unknown channel (core.kinds asks this)."""
    adapter = _adapters.get(name)
    return adapter.kinds if adapter is not None else None


def adapter_names() -> list[str]:
    return sorted(_adapters)
