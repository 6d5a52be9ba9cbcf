"""A check stores its reasons as messages, not as text: whoever reads the import later reads them in their
own language, whatever the language of the operator who ran the check (issue 15.16)."""
from django.utils import translation

from siyu.members import imports
from siyu.members.models import Member


def checked_in_chinese(workspace, tmp_path, lines):
    path = tmp_path / "members.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with translation.override("zh-hans"):
        imp = imports.import_create(workspace=workspace, by=None, path=path)
        imports.import_configure(member_import=imp)
        imports.import_run(member_import=imp, commit=False)
    imp.refresh_from_db()
    return imp


def test_reasons_checked_in_chinese_read_in_english_and_back(workspace, tmp_path):
    Member.objects.create(workspace=workspace, number=1, display_name="陈静", city="上海")
    imp = checked_in_chinese(workspace, tmp_path, ["学号,姓名,性别,城市,标签", "1,陈静,,北京,", "2,王芳,女,,", ",李雷,外星,,没有这个标签"])
    with translation.override("en"):
        shown = imports.import_shown(imp)
    reasons = {(e["line"], e["column"]): e["reason"] for e in shown["report"]}
    assert reasons == {(3, "学号"): "There is no member number 2.",
                       (4, "性别"): "“外星” is not a gender (男, 女, m or f)."}
    update = shown["summary"]["updates"][0]
    assert update["reason"] == "Updates member #1 (same member number 1) instead of creating one."
    assert update["changes"] == [["City", "上海", "北京"]]
    with translation.override("zh-hans"):
        shown = imports.import_shown(imp)
    assert "不是性别" in shown["report"][1]["reason"] and shown["summary"]["updates"][0]["changes"][0][0] == "城市"


def test_a_refused_file_reads_in_the_readers_language(workspace, tmp_path):
    imp = checked_in_chinese(workspace, tmp_path, ["姓名,手机"])
    assert imp.error  # kept on the row too, in the checker's language
    with translation.override("en"):
        assert imports.import_shown(imp)["error"] == "The file has a header row but no members."
    with translation.override("zh-hans"):
        assert imports.import_shown(imp)["error"] == imp.error
