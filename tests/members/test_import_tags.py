"""Member import (15.7): a choice per missing tag (create it / ignore it) instead of one switch, and the
downloadable template (CSV with BOM and XLSX) with the recognised headers, which imports back cleanly."""
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from siyu.core.models import AuditEntry, Role
from siyu.members import imports
from siyu.members.models import ImportStatus, Member, MemberImport, MemberTag, Tag
from siyu.members.tags import tag_create


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def operator(workspace, make_staff):
    tag_create(workspace=workspace, name="高意向")
    return make_staff(workspace, role=Role.OPERATOR, username="li.yun")


LINES = ["姓名,手机,标签", "王小明,13800138000,\"高意向,新客\"", "李华,13900139000,\"新客,旧活动\"", "周到,13700137000,旧活动"]


def write(tmp_path, lines, name="members.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_each_missing_tag_is_listed_with_its_rows_and_no_choice_yet(tmp_path, workspace, operator):
    imp = imports.import_create(workspace=workspace, by=operator, path=write(tmp_path, LINES))
    result = imports.import_run(member_import=imp, commit=False)
    assert result.missing_tags == [{"tag": "新客", "rows": 2, "choice": ""}, {"tag": "旧活动", "rows": 2, "choice": ""}]
    assert result.bad_rows == 3
    assert "There is no tag “新客”: choose whether to create it or ignore it." in [e["reason"] for e in result.report]


def test_rows_import_with_the_tags_chosen_created_and_without_the_ignored_ones(tmp_path, workspace, operator):
    imp = imports.import_create(workspace=workspace, by=operator, path=write(tmp_path, LINES))
    imports.import_configure(member_import=imp, tag_choices={"新客": "create", "旧活动": "ignore"})
    result = imports.import_run(member_import=imp, commit=False)
    assert result.bad_rows == 0 and result.new_tags == ["新客"]
    assert [e["choice"] for e in result.missing_tags] == ["create", "ignore"]
    assert not Tag.objects.filter(name="新客").exists()  # a dry run creates nothing
    imports.import_configure(member_import=imp)
    result = imports.import_run(member_import=imp, commit=True)
    assert result.committed and result.created == 3
    held = {(m, t) for m, t in MemberTag.objects.values_list("member__display_name", "tag__name")}
    assert held == {("王小明", "高意向"), ("王小明", "新客"), ("李华", "新客")}
    assert not Tag.objects.filter(name="旧活动").exists()
    assert AuditEntry.objects.get(action="import").data["ignored_tags"] == ["旧活动"]


def test_a_tag_left_without_a_choice_keeps_its_rows_out(tmp_path, workspace, operator):
    imp = imports.import_create(workspace=workspace, by=operator, path=write(tmp_path, LINES))
    imports.import_configure(member_import=imp, tag_choices={"新客": "create"})
    result = imports.import_run(member_import=imp, commit=False)
    assert [e["line"] for e in result.report] == [3, 4]  # both name 旧活动
    imports.import_configure(member_import=imp, tag_choices={"旧活动": "ignore", "新客": ""})  # merged; "" forgets
    result = imports.import_run(member_import=imp, commit=False)
    assert [e["line"] for e in result.report] == [2, 3] and result.missing_tags[0] == {"tag": "新客", "rows": 2, "choice": ""}


def test_the_console_report_offers_create_or_ignore_per_tag(client, tmp_path, workspace, operator):
    client.force_login(operator)
    base = reverse("console:member_import_start", args=[workspace.slug])
    with open(write(tmp_path, LINES), "rb") as f:
        client.post(base, {"file": f})
    imp = MemberImport.objects.get(workspace=workspace)
    page_url = reverse("console:member_import", args=[workspace.slug, imp.pk])
    client.post(page_url, {"map-0": "display_name", "map-1": "phone", "map-2": "tags", "action": "check"})
    page = client.get(page_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="create_tags"' not in page  # no all-or-nothing switch
    assert 'id="missing-tags"' in page and page.count('value="create"') == 2 and page.count('value="ignore"') == 2
    assert "Create it" in page and "Ignore it" in page
    zh = client.get(page_url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "不存在的标签" in zh and "新建" in zh and "忽略" in zh
    client.post(page_url, {"action": "tags", "tagname-0": "新客", "tag-0": "create", "tagname-1": "旧活动", "tag-1": "ignore"})
    imp.refresh_from_db()
    assert imp.status == ImportStatus.CHECKED and imp.bad_rows == 0
    page = client.get(page_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Tags to create: 新客" in page and "Tags to ignore: 旧活动" in page and 'value="create" checked' in page
    client.post(page_url, {"action": "commit"})
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE and Member.objects.count() == 3 and Tag.objects.filter(name="新客").exists()
    assert "Tags ignored: 旧活动" in client.get(page_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_cli_takes_a_choice_per_tag(tmp_path, workspace, operator, capsys):
    path = write(tmp_path, LINES)
    with pytest.raises(Exception, match="Dry run"):
        call_command("members", "import", str(path), "--workspace", workspace.slug, "--dry-run", verbosity=0)
    assert "choose --create-tag TAG or --ignore-tag TAG for each): 新客 (2 rows), 旧活动 (2 rows)" in capsys.readouterr().out
    call_command("members", "import", str(path), "--workspace", workspace.slug, "--create-tag", "新客", "--ignore-tag", "旧活动",
                 verbosity=0)
    out = capsys.readouterr().out
    assert "Tags created: 新客" in out and "Tags ignored: 旧活动" in out and Member.objects.count() == 3


@pytest.mark.parametrize("language, fmt", [("zh-hans", "csv"), ("en", "csv"), ("zh-hans", "xlsx"), ("en", "xlsx")])
def test_the_template_has_the_recognised_headers_and_imports_back_cleanly(client, tmp_path, workspace, operator,
                                                                          language, fmt):
    client.force_login(operator)
    response = client.get(reverse("console:member_import_template", args=[workspace.slug]), {"format": fmt},
                          HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    body = response.content
    if fmt == "csv":
        assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel opens the Chinese right
        rows = [line.split(",") for line in body.decode("utf-8-sig").splitlines()]
    else:
        assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        rows = [list(r) for r in load_workbook(io.BytesIO(body), read_only=True).worksheets[0].iter_rows(values_only=True)]
    headers, example = rows[0], rows[1]
    assert len(rows) == 2 and (headers[0] == "姓名") is (language == "zh-hans") and (headers[0] == "Name") is (language == "en")
    proposed = imports.mapping_propose(headers)
    assert sorted(proposed.values()) == sorted(imports.TEMPLATE_COLUMNS)  # every header recognised, none ignored
    assert example[headers.index("姓名" if language == "zh-hans" else "Name")] in ("张三", "Zhang San")
    path = tmp_path / f"template.{fmt}"
    path.write_bytes(body)
    imp = imports.import_create(workspace=workspace, by=operator, path=path)
    result = imports.import_run(member_import=imp, commit=False)
    assert (result.rows, result.bad_rows, result.error, result.missing_tags) == (1, 0, "", [])
    imports.import_configure(member_import=imp)
    assert imports.import_run(member_import=imp, commit=True).committed
    member = Member.objects.get()
    assert (member.source, member.owner, member.gender) == ("douyin", operator, "m")
    assert list(MemberTag.objects.values_list("tag__name", flat=True)) == ["高意向"]


def test_the_import_page_links_both_templates(client, workspace, operator):
    client.force_login(operator)
    page = client.get(reverse("console:member_import_start", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    template = reverse("console:member_import_template", args=[workspace.slug])
    assert f"{template}?format=csv" in page and f"{template}?format=xlsx" in page
    assert client.get(template, {"format": "pdf"}).status_code == 404
