"""The console crawl's world and walker: two workspaces full of real rows, every console URL pattern from the
URLconf, the ids to put in them, and the forms a page offers (parsed from its HTML)."""
import os
import random
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone, translation
from django.urls import URLPattern, URLResolver, get_resolver

from siyu.channels.models import DeadLetter
from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.channels.wecom.services import wecom_connect
from siyu.core.models import OutboxMessage, Role, StaffRole
from siyu.core.outbox import outbox_enqueue
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.groups.models import Announcement, Group, KeywordReply, ModerationRule, Strike
from siyu.groups.services import announcement_create, recommended_rules_create
from siyu.links.models import ChannelCode, Link, LinkBreakdown
from siyu.links.services import channel_code_create, code_target_add, link_create
from siyu.channels.simulator.members_demo import members_demo
from siyu.members.imports import import_step, import_upload
from siyu.members.models import BulkAction, Lead, LeadList, Member, MemberImport, MemberMerge, Note, Segment, Tag

# An import file with a good row, a row updating a member, and bad rows (an unknown tag, a bad gender, no name).
IMPORT_CSV = "姓名,性别,手机,标签,学号\n新学员,女,13800000001,,\n改名学员,,,,1\n坏学员,外星,13800000002,不存在的标签,\n,男,13800000003,,\n"
# The link's visitors by device, OS and browser as ua-parser names them (generic families, brands, models).
VISITS = [("device", "iPhone", 9), ("device", "Other", 5), ("device", "Generic Smartphone", 3), ("device", "K", 2),
          ("os", "iOS", 9), ("os", "Other", 4), ("browser", "WeChat", 8), ("browser", "Other", 3),
          ("referer", "mp.weixin.qq.com", 4)]
SLOW = bool(os.environ.get("SIYU_SLOW_TESTS"))
MARK = "ZZB~"  # in every name of the other workspace (the ~ is in no token or id): a page of the first that shows it has read across
ROLES = [Role.OWNER, Role.ADMIN, Role.OPERATOR, Role.SALES, Role.VIEWER]
OUT_OF_RANGE = ["9223372036854775808", "99999999999999999999", "1" + "0" * 30]
ODD_VALUES = ["-1", "0", "1e308", "-9223372036854775809", "NaN", "inf", "", " ", "x" * 5000, "\u202e\u200b", "'\"<>&%00", "[1]", "{}"]

# Where the ids of a URL keyword come from: (model, field, path from the row to its workspace).
ID_SOURCES = {
    "group_id": (Group, "pk", "workspace"),
    "number": (Member, "number", "workspace"),
    "message_id": (OutboxMessage, "pk", "workspace"),
    "link_id": (Link, "pk", "workspace"),
    "code_id": (ChannelCode, "pk", "workspace"),
    "segment_id": (Segment, "pk", "workspace"),
    "user_id": (StaffRole, "user_id", "workspace"),
    "import_id": (MemberImport, "pk", "workspace"),
    "note_id": (Note, "pk", "workspace"),
    "list_id": (LeadList, "pk", "workspace"),
    "lead_id": (Lead, "pk", "lead_list__workspace"),
    "merge_id": (MemberMerge, "pk", "workspace"),
    "bulk_id": (BulkAction, "pk", "workspace"),
    "letter_id": (DeadLetter, "pk", "workspace"),
}
# <int:pk> means a different row per page: told apart by the URL name.
PK_SOURCES = {"reply": KeywordReply, "rule": ModerationRule, "announcement": Announcement, "strike": Strike}
STR_VALUES = {"action": ["post", "stop", "nope"], "fmt": ["png", "svg", "gif"]}


@dataclass
class Pattern:
    route: str
    name: str
    keywords: list


def console_patterns():
    """Every URL pattern of the console with its keywords, read from the URLconf (new pages join by themselves)."""
    found = []

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern) and namespace == "console":
                route = prefix + str(p.pattern)
                found.append(Pattern(route, p.name, re.findall(r"<(?:\w+:)?(\w+)>", route)))

    walk(get_resolver().url_patterns, "", None)
    return found


def build_url(pattern, values):
    """The route with each <conv:name> replaced by values[name]."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), pattern.route)


@dataclass
class Side:
    workspace: object
    users: dict
    ids: dict = field(default_factory=dict)  # keyword (or pk:<kind>) -> a real id of this workspace


def _world_workspace(slug, seed, name_prefix=""):
    workspace = workspace_create(slug=slug, name=f"{name_prefix}Workspace {slug}")
    users = {}
    for role in ROLES:
        users[role] = staff_user_ensure(username=f"{slug}-{role}", password="pw-for-tests-123")
        staff_role_set(workspace=workspace, user=users[role], role=role)
    plan = simulation_plan(workspace=workspace, groups=3, members=40, days=6, seed=seed)
    simulation_run(workspace=workspace, plan=plan)
    members_demo(workspace=workspace, staff={"operator": users[Role.OPERATOR], "sales": users[Role.SALES]}, seed=seed)
    group = Group.objects.filter(workspace=workspace).order_by("pk").first()
    recommended_rules_create(workspace=workspace)
    announcement_create(workspace=workspace, text=f"{name_prefix}announcement", group=group)
    link_create(workspace=workspace, target_url=f"https://example.com/{name_prefix}landing", group=group)
    code = channel_code_create(workspace=workspace, name=f"{name_prefix}code")
    code_target_add(code=code, url=f"https://example.com/{name_prefix}join", group=group, capacity=200)
    outbox_enqueue(workspace=workspace, channel="simulator", kind="send", target=group.external_id,
                   payload={"text": f"{name_prefix}hello"}, idempotency_key=f"crawl-{slug}")
    wecom_connect(workspace=workspace, corp_id=f"ww{seed}crawl", agent_id="1000002", secret=f"{name_prefix}secret",
                  token="QDG6eK", encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    DeadLetter.objects.create(workspace=workspace, channel="wecom", account=f"ww{seed}crawl/1000002", body="<xml/>",
                              payload=f"<xml><ChatId>{name_prefix}chat</ChatId></xml>", error=f"{name_prefix}no MemChangeList")
    link = Link.objects.filter(workspace=workspace).order_by("pk").first()
    for kind, value, visits in VISITS:
        LinkBreakdown.objects.create(workspace=workspace, link=link, day=timezone.localdate(), kind=kind, value=value,
                                     visits=visits)
    with translation.override("zh-hans"):  # checked by a Chinese reader: its report must still read in English
        imp = import_upload(workspace=workspace, by=users[Role.OPERATOR], filename=f"{name_prefix}members.csv",
                            chunks=[IMPORT_CSV.encode("utf-8-sig")])
        headers = list(imp.mapping)
        import_step(member_import=imp, action="check", column_fields={headers.index(h): f for h, f in imp.mapping.items()})
    return Side(workspace, users)


def side_build(slug, seed):
    """One workspace of the world, with its ids collected."""
    side = _world_workspace(slug, seed=seed)
    _collect_ids(side)
    return side


def _collect_ids(side):
    ws = side.workspace
    for keyword, (model, field_name, path) in ID_SOURCES.items():
        value = model.objects.filter(**{path: ws}).order_by("pk").values_list(field_name, flat=True).first()
        if value is not None:
            side.ids[keyword] = value
    for kind, model in PK_SOURCES.items():
        value = model.objects.filter(workspace=ws).order_by("pk").values_list("pk", flat=True).first()
        if value is not None:
            side.ids[f"pk:{kind}"] = value


def world_build():
    """Two workspaces with staff in every role and rows of every kind; every name in the second carries MARK."""
    own = _world_workspace("crawl-a", seed=11)
    other = _world_workspace("crawl-b", seed=12, name_prefix=MARK)
    ws = other.workspace
    for model, name_field in ((Group, "name"), (Member, "display_name"), (Segment, "name"), (Tag, "name"),
                              (LeadList, "name"), (ChannelCode, "name"), (ModerationRule, "name"), (Note, "text"),
                              (KeywordReply, "reply")):
        model.objects.filter(workspace=ws).update(**{name_field: Concat(Value(MARK), name_field)})
    for side in (own, other):
        _collect_ids(side)
    return own, other


def pk_kind(pattern):
    for kind in PK_SOURCES:
        if kind in pattern.name:
            return kind
    raise AssertionError(f"{pattern.name}: <pk> of an unknown kind; add it to PK_SOURCES")


def value_sets(pattern, own, other, rng):
    """Keyword values to try on this pattern: own ids, the other workspace's, random and out-of-range ones."""
    def ids(side):
        values = {"slug": own.workspace.slug}
        for keyword in pattern.keywords:
            if keyword == "slug":
                continue
            if keyword in STR_VALUES:
                values[keyword] = STR_VALUES[keyword][0]
                continue
            key = f"pk:{pk_kind(pattern)}" if keyword == "pk" else keyword
            values[keyword] = side.ids.get(key, 1)
        return values

    sets = [("own", ids(own))]
    numeric = [k for k in pattern.keywords if k not in ("slug", *STR_VALUES)]
    if numeric:
        sets.append(("other", ids(other)))
        for _ in range(3 if SLOW else 1):
            sets.append(("random", {**ids(own), **{k: rng.randint(10**6, 10**9) for k in numeric}}))
        for value in OUT_OF_RANGE if SLOW else OUT_OF_RANGE[:1]:
            sets.append(("out-of-range", {**ids(own), **{k: value for k in numeric}}))
    for keyword in pattern.keywords:
        for value in STR_VALUES.get(keyword, [])[1:]:
            sets.append(("odd", {**ids(own), keyword: value}))
    return sets


class FormParser(HTMLParser):
    """The POST forms of a page: action, and each field's name with the values the page offers."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            kind = a.get("type", tag)
            if kind in ("submit", "button", "file", "image"):
                return
            values = self._form["fields"].setdefault(a["name"], {"type": kind, "values": []})
            if tag == "input" and (kind not in ("checkbox", "radio") or "checked" in a):
                values["values"].append(a.get("value", ""))
            if tag == "select":
                self._select = values
        elif tag == "option" and self._select is not None:
            self._select["values"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def page_forms(html):
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def form_bodies(form, rng):
    """Bodies to post to a form: as offered; then, one field at a time, each number-like field out of range
    (so the other fields stay valid and the number is what the form must refuse); then every field odd."""
    fields = {name: f for name, f in form["fields"].items() if name != "csrfmiddlewaretoken"}
    offered = {name: (f["values"][0] if f["values"] else "1") for name, f in fields.items()}
    bodies = [offered]
    numeric = [n for n, f in fields.items() if f["type"] == "number" or re.fullmatch(r"-?\d+", offered[n] or "")]
    for name in numeric:
        for value in OUT_OF_RANGE if SLOW else OUT_OF_RANGE[:1]:
            bodies.append({**offered, name: value})
    for value in ODD_VALUES if SLOW else rng.sample(ODD_VALUES, 2):
        bodies.append({name: value for name in offered})
    return bodies


def fresh_random(seed=2026):
    return random.Random(seed)
