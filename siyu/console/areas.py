"""Console areas: each page module of the console declares its routes and its menu entries in one place.

    area = ConsoleArea(
        key="links",
        routes=[path("links/", links, name="links"), ...],           # under w/<slug>/
        menu=[MenuEntry(gettext_lazy("Links"), "links", order=60, active=("link*", "code*"))],
    )

The first use of the registry imports every module of siyu.console and registers the `area` each one
declares (an area may also be registered from an AppConfig.ready()); `console/urls.py` serves the routes of every registered area and the page header's navigation is
built from their menu entries, each shown only to the roles it names. A new app's pages (campaigns,
automation, h5's operator side) are a new module here with its `area`: nothing else changes.
"""
from dataclasses import dataclass, field
from importlib import import_module
from pkgutil import iter_modules

from django.urls import path, reverse

from siyu.core.roles import EVERYONE, role_allows

WORKSPACE_PREFIX = "w/<slug:slug>/"


@dataclass(frozen=True)
class MenuEntry:
    """One link in the page header: its label, the route it opens, who sees it and when it is lit.

    `active` lists the route names that light it up (a name ending in "*" is a prefix); by default the
    entry's own route. `in_workspace=False` for a route that takes no workspace slug (the admin site).
    """

    label: object
    url_name: str
    order: int
    roles: tuple = EVERYONE
    active: tuple = ()
    in_workspace: bool = True

    def is_active(self, current):
        names = self.active or (self.url_name,)
        return any(current.startswith(name[:-1]) if name.endswith("*") else current == name for name in names)


@dataclass(frozen=True)
class ConsoleArea:
    """A part of the console: its routes (relative to w/<slug>/) and its menu entries."""

    key: str
    routes: list = field(default_factory=list)
    menu: list = field(default_factory=list)


_areas: dict[str, "ConsoleArea"] = {}
_discovered: list[bool] = []


def area_register(area):
    """Add an area; registering the same key twice is an error (two modules claiming one area)."""
    if area.key in _areas and _areas[area.key] is not area:
        raise ValueError(f"console area {area.key!r} is registered twice")
    _areas[area.key] = area


def areas_discover(package="siyu.console"):
    """Import every module of the console package (but its URLs) and register the `area` each declares."""
    root = import_module(package)
    for module in iter_modules(root.__path__):
        if module.ispkg or module.name == "urls":
            continue
        area = getattr(import_module(f"{package}.{module.name}"), "area", None)
        if isinstance(area, ConsoleArea):
            area_register(area)


def areas():
    """The registered areas, in the order of their keys (stable URL order); discovers them on first use."""
    if not _discovered:
        _discovered.append(True)
        areas_discover()
    return [_areas[key] for key in sorted(_areas)]


def area_urlpatterns():
    """Every area's routes, under w/<slug>/."""
    return [
        path(WORKSPACE_PREFIX + str(route.pattern), route.callback, route.default_args, route.name)
        for area in areas() for route in area.routes
    ]


def menu_for(*, staff_role, workspace, current=""):
    """The header's navigation for this role: [(label, url, lit)] in menu order."""
    entries = sorted((e for a in areas() for e in a.menu if role_allows(staff_role, e.roles)), key=lambda e: e.order)
    return [
        (entry.label, reverse(f"console:{entry.url_name}", args=[workspace.slug]) if entry.in_workspace
         else reverse(entry.url_name), entry.is_active(current))
        for entry in entries
    ]
