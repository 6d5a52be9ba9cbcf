"""Console pages of tags, tag rules and segments: the tag manager, the segment builder with its live
count, a segment's page (size, last full build, size history, members), and tags on the member page.

Everyone with a role may look; changing needs the owner, admin or operator role. The builder edits a
filter as rows (one condition each, optionally negated, joined by "all" or "any"); a filter nested
deeper than that is edited as JSON. Views parse and call siyu.members.tags / tag_rules / segments.
"""
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.analytics.models import ActivityTier, Loyalty, Pyramid, ValueTier
from siyu.core import selectors as core_selectors
from siyu.core.roles import OPERATORS, role_allows
from siyu.groups.models import Group, GroupKind
from siyu.members import segments as segment_services
from siyu.members import selectors as member_selectors
from siyu.members import tag_rules as tag_rule_services
from siyu.members.models import Member, Tag, TagChoice, TagGroup, TagVia
from siyu.members.filters import COUNT_LABELS, FIELDS, OP_LABELS, FilterError, filter_describe, filter_error, filter_preview
from siyu.members.tags import tag_create, tag_delete, tag_group_create, tags_apply, tags_remove

from .areas import ConsoleArea, MenuEntry
from .access import errors_flash, role_required, workspace_view

KINDS = {
    "tag": gettext_lazy("has tag"),
    "count": gettext_lazy("activity count"),
    "field": gettext_lazy("profile field"),
    "group": gettext_lazy("in group"),
    "group_kind": gettext_lazy("in a group of kind"),
    "model": gettext_lazy("tier or type"),
    "seen": gettext_lazy("last seen"),
    "bought": gettext_lazy("bought product"),
    "campaign": gettext_lazy("reached by campaign"),
    "owner": gettext_lazy("owner"),
    "source": gettext_lazy("source"),
}
FIELD_OPS = {"eq": gettext_lazy("is"), "ne": gettext_lazy("is not"), "contains": gettext_lazy("contains"),
             "empty": gettext_lazy("is empty"), "filled": gettext_lazy("is filled")}
FIELD_LABELS = {"display_name": gettext_lazy("name"), "gender": gettext_lazy("gender"), "city": gettext_lazy("city"),
                "remark": gettext_lazy("remark")}
MODELS = [("activity_tier", ActivityTier), ("value_tier", ValueTier), ("loyalty", Loyalty), ("pyramid", Pyramid)]
ROW_PARAMS = ("tag", "what", "days", "op", "value", "field", "fop", "text", "group", "gkind", "model", "seen", "owner")
MAX_ROWS = 20
PAGE = 100


CHANGE_REFUSED = gettext_lazy("Only owners, admins and operators can change tags and segments.")
change_required = role_required(OPERATORS, CHANGE_REFUSED)


# -- rows ↔ filter ------------------------------------------------------------------------------
def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def row_node(row):
    """One builder row (a dict of its inputs) → a filter node; ValidationError saying what is missing."""
    kind = row.get("kind")
    if kind == "tag":
        node = {"tag": _int(row.get("tag"))}
        if node["tag"] is None:
            raise ValidationError(_("Choose a tag."))
    elif kind == "count":
        value = _number(row.get("value"))
        if value is None:
            raise ValidationError(_("Give the count a number."))
        node = {"count": row.get("what") or "messages", "op": row.get("op") or "gte", "value": value}
        if row.get("days"):
            node["days"] = _int(row["days"])
    elif kind == "field":
        node = {"field": row.get("field") or "city", "op": row.get("fop") or "eq"}
        if node["op"] not in ("empty", "filled"):
            node["value"] = row.get("text", "")
    elif kind == "group":
        node = {"group": _int(row.get("group"))}
        if node["group"] is None:
            raise ValidationError(_("Choose a group."))
    elif kind == "group_kind":
        node = {"group_kind": row.get("gkind") or GroupKind.LEAD}
    elif kind == "model":
        model, _sep, value = (row.get("model") or "").partition(":")
        node = {"model": model, "value": value}
    elif kind == "seen":
        node = {"seen": row.get("seen") or "within", "days": _int(row.get("days")) or 30}
    elif kind in ("bought", "campaign"):
        if not row.get("text", "").strip():
            raise ValidationError(_("Give the product or campaign code."))
        node = {kind: row["text"].strip()}
    elif kind == "owner":
        node = {"owner": _int(row.get("owner"))}
    elif kind == "source":
        node = {"source": row.get("text", "").strip()}
    else:
        raise ValidationError(_("Choose what the condition is about."))
    return {"not": node} if row.get("neg") else node


def rows_from_post(data):
    """The builder's rows as posted (c-<n>-<param>), in order."""
    rows = []
    for n in range(MAX_ROWS):
        kind = data.get(f"c-{n}-kind")
        if kind is None:
            continue
        row = {"kind": kind, "neg": bool(data.get(f"c-{n}-neg"))}
        row.update({p: data.get(f"c-{n}-{p}", "").strip() for p in ROW_PARAMS})
        rows.append(row)
    return rows


def filter_from_post(data):
    """(filter, error): the JSON field when the advanced editor was used, else the rows joined by all/any."""
    if data.get("mode") == "json":
        try:
            condition = json.loads(data.get("json") or "{}")
        except json.JSONDecodeError as exc:
            return None, _("The JSON is not valid: %(error)s") % {"error": exc}
        return condition, ""
    nodes = []
    for n, row in enumerate(rows_from_post(data), start=1):
        try:
            nodes.append(row_node(row))
        except ValidationError as exc:
            return None, _("Condition %(n)s: %(error)s") % {"n": n, "error": " ".join(exc.messages)}
    return {"any" if data.get("join") == "any" else "all": nodes}, ""


def rows_from_filter(condition):
    """(join, rows) when the filter is flat (all/any of conditions, each maybe negated), else None."""
    if not isinstance(condition, dict):
        return None
    join = "any" if "any" in condition else "all"
    nodes = condition.get(join, [] if not condition else None)
    if nodes is None or not isinstance(nodes, list):
        return None
    rows = []
    for node in nodes:
        neg = isinstance(node, dict) and set(node) == {"not"}
        leaf = node["not"] if neg else node
        if not isinstance(leaf, dict) or any(k in leaf for k in ("all", "any", "not")):
            return None
        row = {"neg": neg, **{p: "" for p in ROW_PARAMS}}
        if "tag" in leaf:
            row.update(kind="tag", tag=str(leaf["tag"]))
        elif "count" in leaf:
            row.update(kind="count", what=leaf["count"], op=leaf.get("op", "gte"), value=str(leaf.get("value", "")),
                       days=str(leaf.get("days") or ""))
        elif "field" in leaf:
            row.update(kind="field", field=leaf["field"], fop=leaf.get("op", "eq"), text=str(leaf.get("value", "")))
        elif "group" in leaf:
            row.update(kind="group", group=str(leaf["group"]))
        elif "group_kind" in leaf:
            row.update(kind="group_kind", gkind=leaf["group_kind"])
        elif "model" in leaf:
            row.update(kind="model", model=f"{leaf['model']}:{leaf.get('value', '')}")
        elif "seen" in leaf:
            row.update(kind="seen", seen=leaf["seen"], days=str(leaf.get("days", "")))
        elif "bought" in leaf or "campaign" in leaf:
            kind = "bought" if "bought" in leaf else "campaign"
            row.update(kind=kind, text=str(leaf[kind]))
        elif "owner" in leaf:
            row.update(kind="owner", owner=str(leaf["owner"] or ""))
        elif "source" in leaf:
            row.update(kind="source", text=str(leaf["source"]))
        else:
            return None
        rows.append(row)
    return join, rows


def _builder_context(request, condition, *, error=""):
    workspace = request.workspace
    flat = rows_from_filter(condition)
    join, rows = flat if flat else ("all", [])
    staff = core_selectors.staff_list(workspace=workspace)
    return {
        "join": join, "rows": rows or ([] if flat is None else [{"kind": "tag", "neg": False, **{p: "" for p in ROW_PARAMS}}]),
        "mode": "rows" if flat else "json",
        "json": json.dumps(condition, ensure_ascii=False, indent=2),
        "kinds": KINDS.items(),
        "tags": member_selectors.tags_live(workspace=workspace),
        "groups": Group.objects.filter(workspace=workspace).order_by("name").only("pk", "name"),
        "group_kinds": GroupKind.choices,
        "counts": COUNT_LABELS.items(), "ops": OP_LABELS.items(),
        "fields": [(f, FIELD_LABELS[f]) for f in FIELDS], "field_ops": FIELD_OPS.items(),
        "models": [(f"{field}:{value}", label) for field, choices in MODELS for value, label in choices.choices],
        "staff": [(s.user_id, s.user.get_username()) for s in staff],
        "filter_error": error,
    }


# -- segments ------------------------------------------------------------------------------------
@workspace_view
def segments(request):
    items = member_selectors.segments_live(workspace=request.workspace)
    for segment in items:
        segment.words = filter_describe(workspace=request.workspace, filter=segment.filter)
    return render(request, "console/segments.html", {"segments": items, "can_change": request.staff_role.can_operate})


def _segment_or_404(request, segment_id):
    segment = member_selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment.")
    return segment


@workspace_view
@change_required
def segment_edit(request, segment_id=None):
    """The builder: new segment (or tag rule, with ?rule=1) or an existing segment."""
    segment = _segment_or_404(request, segment_id) if segment_id else None
    for_rule = segment is None and request.GET.get("rule") == "1"
    condition = segment.filter if segment else {"all": []}
    values: dict[str, Any] = {"name": segment.name if segment else "", "description": segment.description if segment else "",
              "tag": "", "keep": False}
    errors = {}
    if request.method == "POST":
        condition, error = filter_from_post(request.POST)
        values = {"name": request.POST.get("name", ""), "description": request.POST.get("description", ""),
                  "tag": request.POST.get("rule_tag", ""), "keep": bool(request.POST.get("keep"))}
        if error:
            errors["filter"] = [error]
            condition = condition if condition is not None else {"all": []}
        else:
            try:
                if for_rule:
                    tag = member_selectors.tag_get(workspace=request.workspace, tag_id=_int(values["tag"]))
                    if tag is None:
                        raise ValidationError({"tag": [_("Choose the tag the rule gives.")]})
                    rule = tag_rule_services.tag_rule_create(workspace=request.workspace, tag=tag, name=values["name"], filter=condition,
                                                untag_when_unmatched=not values["keep"], by=request.user)
                    messages.success(request, _("Tag rule saved: %(n)s members have the tag now.") % {
                        "n": member_selectors.tag_holders(tag=rule.tag)})
                    return redirect("console:tags", request.workspace.slug)
                if segment is None:
                    segment = segment_services.segment_create(workspace=request.workspace, name=values["name"], filter=condition,
                                                  description=values["description"], by=request.user)
                else:
                    segment_services.segment_update(segment=segment, name=values["name"], filter=condition, description=values["description"])
                return redirect("console:segment", request.workspace.slug, segment.pk)
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {"filter": exc.messages}
    context = _builder_context(request, condition, error=" ".join(errors.pop("filter", [])))
    context.update(segment=segment, for_rule=for_rule, values=values, errors=errors)
    if not context["filter_error"]:
        context.update(_preview(request, condition))
    return render(request, "console/segment_edit.html", context)


def _preview(request, condition):
    try:
        count, first = filter_preview(workspace=request.workspace, filter=condition)
    except FilterError as exc:
        return {"preview_error": str(exc)}
    return {"preview_count": count, "preview_members": first,
            "preview_words": filter_describe(workspace=request.workspace, filter=condition),
            "preview_json": json.dumps(condition, ensure_ascii=False, indent=2)}


@workspace_view
@require_POST
def segment_preview(request):
    """htmx: the live count and first 50 members of the filter being built."""
    condition, error = filter_from_post(request.POST)
    context = {"preview_error": error} if error else _preview(request, condition)
    return render(request, "console/_segment_preview.html", context)


@workspace_view
def segment_detail(request, segment_id):
    segment = _segment_or_404(request, segment_id)
    before = _int(request.GET.get("before"))
    page, next_before = member_selectors.segment_members_page(segment=segment, before=before, limit=PAGE)
    sizes = member_selectors.segment_sizes(segment=segment)
    if segment.error:  # stored in the language of the build that found it: say it in the reader's
        segment.error = filter_error(workspace=request.workspace, filter=segment.filter) or segment.error
    return render(request, "console/segment_detail.html", {
        "segment": segment, "words": filter_describe(workspace=request.workspace, filter=segment.filter),
        "members": page, "next_before": next_before, "sizes": sizes,
        "peak": max((s.size for s in sizes), default=0) or 1,
        "can_change": request.staff_role.can_operate, "can_export": role_allows(request.staff_role, OPERATORS),
    })


@workspace_view
@change_required
@require_POST
def segment_recount(request, segment_id):
    segment = _segment_or_404(request, segment_id)
    entered, left = segment_services.segment_build(segment=segment)
    if segment.error:
        messages.error(request, segment.error)
    else:
        messages.success(request, _("Recounted: %(size)s members (+%(entered)s, −%(left)s) in %(ms)s ms.") % {
            "size": segment.size, "entered": entered, "left": left, "ms": segment.build_ms})
    return redirect("console:segment", request.workspace.slug, segment.pk)


@workspace_view
@change_required
@require_POST
def segment_archive(request, segment_id):
    segment = _segment_or_404(request, segment_id)
    if segment.lead_lists.exists():
        messages.error(request, _("Lead lists use this segment; delete them first."))
        return redirect("console:segment", request.workspace.slug, segment.pk)
    segment_services.segment_archive(segment=segment)
    messages.success(request, _("Segment %(name)s deleted.") % {"name": segment.name})
    return redirect("console:segments", request.workspace.slug)


# -- tags ----------------------------------------------------------------------------------------
@workspace_view
@role_required(OPERATORS, CHANGE_REFUSED, methods=("POST",))
def tags(request):
    workspace = request.workspace
    if request.method == "POST":
        try:
            _tags_post(request)
        except ValidationError as exc:
            errors_flash(request, exc)
        return redirect("console:tags", workspace.slug)
    groups, loose, rules = member_selectors.tag_manager(workspace=workspace)
    for rule in rules:
        rule.words = filter_describe(workspace=workspace, filter=rule.filter)
    return render(request, "console/tags.html", {
        "groups": groups, "loose": loose, "rules": rules,
        "choices": TagChoice.choices, "can_change": request.staff_role.can_operate,
    })


def _tags_post(request):
    workspace, action = request.workspace, request.POST.get("action")
    group: TagGroup | None
    tag: Tag | None
    if action == "group":
        group = tag_group_create(workspace=workspace, name=request.POST.get("name", ""), choice=request.POST.get("choice", "multi"))
        messages.success(request, _("Tag group %(name)s created.") % {"name": group.name})
    elif action == "tag":
        group = member_selectors.tag_group_get(workspace=workspace, group_id=_int(request.POST.get("group")))
        tag = tag_create(workspace=workspace, name=request.POST.get("name", ""), group=group,
                         color=request.POST.get("color") or "#475467")
        messages.success(request, _("Tag %(name)s created.") % {"name": tag})
    elif action == "delete":
        tag = member_selectors.tag_get(workspace=workspace, tag_id=_int(request.POST.get("tag")))
        if tag is None:
            raise ValidationError(_("That tag no longer exists."))
        taken = tag_delete(tag=tag, by=request.user)
        messages.success(request, _("Tag %(name)s deleted; taken from %(n)s members.") % {"name": tag, "n": taken})
    elif action in ("rule_pause", "rule_resume", "rule_delete"):
        rule = member_selectors.tag_rule_get(workspace=workspace, rule_id=_int(request.POST.get("rule")))
        if rule is None:
            raise ValidationError(_("That tag rule no longer exists."))
        if action == "rule_delete":
            tag_rule_services.tag_rule_delete(rule=rule)
            messages.success(request, _("Tag rule deleted; the tags it gave stay until removed."))
        else:
            tag_rule_services.tag_rule_update(rule=rule, active=action == "rule_resume")
    else:
        raise ValidationError(_("Unknown action."))


@workspace_view
@change_required
@require_POST
def member_tags(request, number):
    """Give or take a tag on the member page."""
    try:
        member = member_selectors.member_get(workspace=request.workspace, number=number)
    except Member.DoesNotExist:
        member = None
    tag = member_selectors.tag_get(workspace=request.workspace, tag_id=_int(request.POST.get("tag")))
    if member is None or tag is None:
        raise Http404("No such member or tag.")
    pairs = [(member.pk, tag.pk)]
    if request.POST.get("action") == "remove":
        tags_remove(workspace=request.workspace, pairs=pairs, via=TagVia.MANUAL, by=request.user)
    else:
        tags_apply(workspace=request.workspace, pairs=pairs, via=TagVia.MANUAL, by=request.user)
    if request.htmx:
        return render(request, "console/_member_tags.html", member_tags_context(request, member))
    return redirect(reverse("console:member", args=[request.workspace.slug, number]) + "#tags")


def member_tags_context(request, member):
    """What _member_tags.html needs: the member's tags (with who or what gave them) and the tags to add."""
    held = member_selectors.member_tags_held(member=member)
    have = {mt.tag_id for mt in held}
    addable = [t for t in member_selectors.tags_live(workspace=request.workspace) if t.pk not in have]
    return {"member": member, "member_tags": held, "addable_tags": addable, "can_change_tags": request.staff_role.can_operate,
            "workspace": request.workspace, "member_segments": member_selectors.member_segments(member=member)}


area = ConsoleArea(
    key="segments",
    routes=[
        path("tags/", tags, name="tags"),
        path("segments/", segments, name="segments"),
        path("segments/new/", segment_edit, name="segment_new"),
        path("segments/preview/", segment_preview, name="segment_preview"),
        path("segments/<int:segment_id>/", segment_detail, name="segment"),
        path("segments/<int:segment_id>/edit/", segment_edit, name="segment_edit"),
        path("segments/<int:segment_id>/recount/", segment_recount, name="segment_recount"),
        path("segments/<int:segment_id>/delete/", segment_archive, name="segment_archive"),
        path("members/<int:number>/tags/", member_tags, name="member_tags"),
    ],
    menu=[MenuEntry(gettext_lazy("Segments"), "segments", order=40, active=("segment*", "tags"))],
)
