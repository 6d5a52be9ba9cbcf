"""Console: the member import wizard (upload → mapping → dry-run report → commit → progress → result) and
member exports (all members or a segment, CSV or XLSX).

Owners, admins and operators only. The wizard's steps are members.imports.import_step: files up to
INLINE_BYTES are checked and imported within the request, larger ones run on the Huey queue (members.tasks)
and the progress page polls the import's progress file through htmx.
"""
import io
import tempfile

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core import spreadsheets
from siyu.members import exports, imports
from siyu.members import selectors as member_selectors
from siyu.members.models import ImportStatus, Member, MemberImport, Segment, SegmentMember
from siyu.core.roles import ADMINS, OPERATORS, role_check
from siyu.members.privacy import can_see_contacts

from .areas import ConsoleArea
from .access import errors_flash, role_required, workspace_view

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


import_required = role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can import and export members."))


def _import_or_404(request, import_id):
    try:
        return MemberImport.objects.select_related("workspace").get(workspace=request.workspace, pk=import_id)
    except MemberImport.DoesNotExist:
        raise Http404("No such import.") from None


@workspace_view
@import_required
def import_start(request):
    """Upload a file (POST) or see recent imports and the export form."""
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("Choose a .csv or .xlsx file.")
        elif upload.size > MAX_UPLOAD_BYTES:
            error = _("The file is larger than %(mb)s MB: import it with the command line.") % {"mb": MAX_UPLOAD_BYTES // 2**20}
        else:
            try:
                imp = imports.import_upload(workspace=request.workspace, by=request.user, filename=upload.name,
                                            chunks=upload.chunks())
            except imports.ImportProblem as problem:
                error = str(problem)
            else:
                return redirect("console:member_import", request.workspace.slug, imp.pk)
    recent = MemberImport.objects.filter(workspace=request.workspace).order_by("-created_at")[:10]
    return render(request, "console/member_import.html", {
        "error": error, "recent": recent, "segments": member_selectors.segments_live(workspace=request.workspace),
        "can_see_contacts": can_see_contacts(request.staff_role), "formats": exports.FORMATS,
    })


def _field_choices(mapping):
    choices = [("", _("— ignore —"))] + [(name, str(label)) for name, label in imports.FIELDS.items()]
    for name in sorted({n for n in mapping.values() if n.startswith(imports.IDENTITY_PREFIX)}):
        choices.append((name, imports.field_label(name)))
    return choices


@workspace_view
@import_required
def import_detail(request, import_id):
    """One import: its mapping step, its dry-run report, its progress or its result, by status."""
    imp = _import_or_404(request, import_id)
    options = imports.import_options(imp)
    if request.method == "POST":
        post = request.POST
        columns = {int(key[4:]): value for key, value in post.items() if key.startswith("map-") and key[4:].isdigit()}
        # A missing tag's choice: tag-<n> (create / ignore) for the tag named in tagname-<n>.
        tag_choices = {post[key]: post.get(f"tag-{key[8:]}", "") for key in post if key.startswith("tagname-")}
        try:
            imports.import_step(
                member_import=imp, action=post.get("action", ""), column_fields=columns, encoding=post.get("encoding"),
                skip_bad=bool(post.get("skip_bad")), overwrite_lossy=bool(post.get("overwrite_lossy")),
                tag_choices=tag_choices,
            )
        except ValidationError as exc:
            errors_flash(request, exc)
        return redirect("console:member_import", request.workspace.slug, imp.pk)
    shown = imports.import_shown(imp)  # stored reasons in the reader's language
    context = {"imp": imp, "options": options, "summary": shown["summary"], "report": shown["report"],
               "import_error": shown["error"],
               "encoding_label": imports.encoding_label(imp.encoding) if imp.encoding else "",
               "detected_label": imports.encoding_label(options["detected"]) if options.get("detected") else "",
               "encodings": [(k, str(v)) for k, v in imports.ENCODINGS.items()], "is_csv": bool(options.get("detected")),
               "others": max(0, imp.rows - imp.bad_rows),
               "ignored_tags": [e["tag"] for e in options.get("summary", {}).get("missing_tags", []) if e["choice"] == "ignore"]}
    if imp.status == ImportStatus.UPLOADED:
        try:
            preview = imports.import_preview(path=imp.path, encoding=imp.encoding)
        except imports.ImportProblem as problem:
            preview = {"headers": [], "rows": [], "proposed": {}}
            context["problem"] = str(problem)
        choices = _field_choices(imp.mapping)
        context["columns"] = [(n, h, imp.mapping.get(h, ""), [r[n] for r in preview["rows"]])
                              for n, h in enumerate(preview["headers"])]
        context["choices"] = choices
        context["preview"] = preview
    if imp.status == ImportStatus.RUNNING:
        context["done"], context["total"] = imports.import_progress(imp)
    context["can_commit"] = imports.import_can_commit(imp)
    return render(request, "console/member_import_detail.html", context)


@workspace_view
@import_required
def import_progress(request, import_id):
    """The progress fragment polled by htmx; once the run ended, the page reloads to show the outcome."""
    imp = _import_or_404(request, import_id)
    if imp.status != ImportStatus.RUNNING:
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    done, total = imports.import_progress(imp)
    return render(request, "console/member_import_progress.html", {"imp": imp, "done": done, "total": total})


@workspace_view
@import_required
def import_template(request):
    """The import template (?format=csv|xlsx): the recognised headers in the reader's language and one example row."""
    fmt = request.GET.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Http404("No such format.")
    headers, rows = imports.import_template(workspace=request.workspace, by=request.user)
    filename = _("members-import-template") + f".{fmt}"
    if fmt == "xlsx":
        out = io.BytesIO()
        spreadsheets.xlsx_write(out=out, title=_("Members"), headers=headers, rows=rows)
        response = HttpResponse(out.getvalue(), content_type=spreadsheets.XLSX_CONTENT_TYPE)
    else:
        text = "".join(spreadsheets.csv_stream(headers=headers, rows=rows))
        response = HttpResponse(text.encode(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


@workspace_view
@import_required
def members_export(request):
    """Download every member, or a segment's (?segment=ID), as ?format=csv|xlsx; ?with_contacts=1 for
    owners and admins only. Audited."""
    workspace = request.workspace
    fmt = request.GET.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Http404("No such format.")
    segment = None
    if request.GET.get("segment"):
        segment = Segment.objects.filter(workspace=workspace, pk=request.GET["segment"]).first() if request.GET["segment"].isdigit() else None
        if segment is None:
            raise Http404("No such segment.")
    with_contacts = request.GET.get("with_contacts") == "1"
    if with_contacts:
        role_check(staff_role=request.staff_role, roles=ADMINS, message=_("Only owners and admins can export contacts unmasked."))
    filename = f"{workspace.slug}-{'segment-%s' % segment.pk if segment else 'members'}.{fmt}"
    if fmt == "xlsx":
        out = tempfile.TemporaryFile()
        exports.members_export(workspace=workspace, out=out, fmt=fmt, segment=segment, with_contacts=with_contacts,
                               by=request.user)
        out.seek(0)
        return FileResponse(out, as_attachment=True, filename=filename,
                            content_type=spreadsheets.XLSX_CONTENT_TYPE)
    count = (SegmentMember.objects.filter(segment=segment).count() if segment else
             Member.objects.filter(workspace=workspace, merged_into__isnull=True, erased_at__isnull=True).count())
    exports.export_audit(workspace=workspace, by=request.user, segment=segment, fmt=fmt, with_contacts=with_contacts,
                         count=count)
    rows = exports.export_rows(workspace=workspace, segment=segment, with_contacts=with_contacts)
    response = StreamingHttpResponse(
        (piece.encode() for piece in spreadsheets.csv_stream(headers=exports.export_headers(), rows=rows, tz=workspace.tz)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response



area = ConsoleArea(
    key="member_import",
    routes=[
        path("members/import/", import_start, name="member_import_start"),
        path("members/import/template/", import_template, name="member_import_template"),
        path("members/import/<int:import_id>/", import_detail, name="member_import"),
        path("members/import/<int:import_id>/progress/", import_progress, name="member_import_progress"),
        path("members/export/", members_export, name="members_export"),
    ],
)
