"""Names of what a page refers to by id (members, staff, groups, tags, segments, links, codes, imports,
handovers…), loaded in bulk: one query per kind of reference per page, however many rows name them.

    refs = References(workspace)
    refs.want(USER, 3); refs.want(IDENTITY, ("matrix", "@ann:example.org"))   # while walking the rows
    refs.load()
    refs.html(USER, 3)  →  "alice";  refs.html(GROUP, 7)  →  <a href="/w/demo/groups/7/">1群</a>

A reference that is gone (a deleted tag, an unknown id) shows as "#id", never as an error. Every
lookup goes through the page's workspace, so another workspace's id never shows a name.
"""
from collections.abc import Callable, Hashable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from siyu.core.models import Workspace
from siyu.groups.models import Group
from siyu.links.models import ChannelCode, Link
from siyu.members.models import Handover, Identity, MemberImport, Segment, Tag, TagRule

# The kinds of reference. Ids are row ids, but for GROUP_REF and IDENTITY: (channel, external id).
MEMBER_ID, USER, GROUP, GROUP_REF, IDENTITY = "member", "user", "group", "group_ref", "identity"
TAG, TAG_RULE, SEGMENT, LINK, CODE, IMPORT, HANDOVER = "tag", "tag_rule", "segment", "link", "code", "import", "handover"

# (name, URL name and its arguments or None) per key.
Named = tuple[str, str | None, tuple[Any, ...]]


def _users(workspace: Workspace, keys: set[Any]) -> dict[Any, Named]:
    rows = get_user_model().objects.filter(pk__in=keys, workspace_roles__workspace=workspace).distinct()
    return {user.pk: (user.get_username(), None, ()) for user in rows}


def _members(workspace: Workspace, keys: set[Any]) -> dict[Any, Named]:
    from siyu.members.models import Member

    rows = Member.objects.filter(workspace=workspace, pk__in=keys).only("pk", "number", "display_name")
    return {m.pk: (f"#{m.number} {m.display_name}", "member", (m.number,)) for m in rows}


def _by_refs(keys: set[Any]) -> Q:
    query = Q(pk__in=[])
    for channel, external_id in keys:
        query |= Q(channel=channel, external_id=external_id)
    return query


def _groups_by_ref(workspace: Workspace, keys: set[Any]) -> dict[Any, Named]:
    rows = Group.objects.filter(_by_refs(keys), workspace=workspace).only("pk", "name", "channel", "external_id")
    return {(g.channel, g.external_id): (g.name, "group", (g.pk,)) for g in rows}


def _identities(workspace: Workspace, keys: set[Any]) -> dict[Any, Named]:
    rows = Identity.objects.filter(_by_refs(keys), workspace=workspace).select_related("member")
    return {(i.channel, i.external_id): (f"#{i.member.number} {i.member.display_name}", "member", (i.member.number,))
            for i in rows}


def _rows(model: Any, url: str | None, name: Callable[[Any], str] = str, related: tuple[str, ...] = ()) -> Callable[
        [Workspace, set[Any]], dict[Any, Named]]:
    def load(workspace: Workspace, keys: set[Any]) -> dict[Any, Named]:
        rows = model._default_manager.filter(workspace=workspace, pk__in=keys).select_related(*related)
        return {row.pk: (name(row), url, (row.pk,) if url else ()) for row in rows}
    return load


def _handover_name(handover: Handover) -> str:
    return _("handover %(from)s → %(to)s") % {
        "from": handover.from_user.get_username() if handover.from_user else "—",
        "to": handover.to_user.get_username() if handover.to_user else "—",
    }


LOADERS: dict[str, Callable[[Workspace, set[Any]], dict[Any, Named]]] = {
    MEMBER_ID: _members,
    USER: _users,
    GROUP: _rows(Group, "group"),
    GROUP_REF: _groups_by_ref,
    IDENTITY: _identities,
    TAG: _rows(Tag, None, related=("group",)),
    TAG_RULE: _rows(TagRule, None),
    SEGMENT: _rows(Segment, "segment"),
    LINK: _rows(Link, "link"),
    CODE: _rows(ChannelCode, "code"),
    IMPORT: _rows(MemberImport, "member_import", name=lambda imp: imp.filename),
    HANDOVER: _rows(Handover, None, name=_handover_name, related=("from_user", "to_user")),
}
# Pages that list a kind without a page per row: a tag opens the members who have it, a rule the tags
# page, a handover the handover page.
LIST_URLS = {TAG: ("members", "tag"), TAG_RULE: ("tags", None), HANDOVER: ("handover", None)}


def _valid(kind: str, key: object) -> bool:
    if kind in (GROUP_REF, IDENTITY):
        return isinstance(key, tuple) and len(key) == 2 and all(isinstance(part, str) and part for part in key)
    return isinstance(key, int) and not isinstance(key, bool) and 0 < key < 2**63


class References:
    """Collects the references of a page's rows, loads their names at once, renders them by name."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._wanted: dict[str, set[Hashable]] = {}
        self._named: dict[str, dict[Any, Named]] = {}

    def want(self, kind: str, key: object) -> None:
        if _valid(kind, key):
            self._wanted.setdefault(kind, set()).add(key)

    def load(self) -> "References":
        for kind, keys in self._wanted.items():
            self._named[kind] = LOADERS[kind](self.workspace, set(keys) - set(self._named.get(kind, {})))
        self._wanted = {}
        return self

    def name(self, kind: str, key: object) -> str:
        """The name, or "" when the key is not a reference (None) or nothing of that id exists."""
        found = self._named.get(kind, {}).get(key) if _valid(kind, key) else None
        return found[0] if found else ""

    def html(self, kind: str, key: object) -> SafeString:
        """The name, linked to its page where the console has one; "#id" for a row that is gone."""
        if not _valid(kind, key):
            return format_html("{}", "" if key is None else key)
        found = self._named.get(kind, {}).get(key)
        if found is None:
            return format_html("#{}", key[1] if isinstance(key, tuple) else key)
        name, url, args = found
        slug = self.workspace.slug
        if url is not None:
            return format_html('<a href="{}">{}</a>', reverse(f"console:{url}", args=[slug, *args]), name)
        if kind in LIST_URLS:
            page, parameter = LIST_URLS[kind]
            href = reverse(f"console:{page}", args=[slug]) + (f"?{parameter}={key}" if parameter else "")
            return format_html('<a href="{}">{}</a>', href, name)
        return format_html("{}", name)
