"""The Simplified Chinese catalogue: complete, well-formed, compiled, and what Django actually serves.

The .po is parsed with the standard library (no polib). If a test here fails after you added or
changed a string, run from siyu/:

    DJANGO_SETTINGS_MODULE=siyu.settings.base ../.venv/bin/siyu makemessages -l zh_Hans \
        --ignore=.venv --ignore=var --ignore=tests --ignore=bench
    # translate the new entries in siyu/locale/zh_Hans/LC_MESSAGES/django.po, then
    DJANGO_SETTINGS_MODULE=siyu.settings.base ../.venv/bin/siyu compilemessages -l zh_Hans

and commit both django.po and django.mo.
"""
import ast
import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation
from django.utils.translation.template import templatize

import siyu
from siyu.core.models import Role
from siyu.members import imports
from siyu.members.models import ImportStatus
from tests.reliability import crawl

SIYU = Path(siyu.__file__).resolve().parent
MESSAGES = SIYU / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = MESSAGES / "django.po"
MO = MESSAGES / "django.mo"

# printf-style placeholders as Python and gettext see them: %(name)s, %(n)d, %r, %5.2f ... but not %%.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict = field(default_factory=dict)  # plural index (0 for singular) -> text
    flags: set = field(default_factory=set)
    line: int = 0

    def __str__(self):
        where = f"django.po:{self.line}"
        return f"{where} {self.msgctxt + ' | ' if self.msgctxt is not None else ''}{self.msgid!r}"


def _unquote(literal, lineno):
    if not (literal.startswith('"') and literal.endswith('"')):
        raise AssertionError(f"django.po:{lineno}: not a quoted string: {literal}")
    return ast.literal_eval(literal)  # PO escapes (\" \\ \n \t) are a subset of Python's


def parse_po(path):
    """Entries of a .po file, header included (msgid ""); obsolete (#~) entries are skipped."""
    entries, entry, target = [], None, None

    def finish():
        if entry is not None and (entry.msgstr or entry.msgid):
            entries.append(entry)

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and target is not None and target[0] == "msgstr":
                finish()
                entry, target = None, None
            if entry is None:
                entry = Entry(line=lineno)
            if line.startswith("#,"):
                entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if target is None:
                raise AssertionError(f"django.po:{lineno}: continuation line outside an entry")
            kind, index = target
            text = _unquote(line, lineno)
            if kind == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, kind, getattr(entry, kind) + text)
            continue
        if keyword in ("msgctxt", "msgid") and target is not None and target[0] == "msgstr":
            finish()
            entry, target = None, None
        if entry is None:
            entry = Entry(line=lineno)
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if keyword == "msgstr" or match:
            index = int(match.group(1)) if match else 0
            entry.msgstr[index] = _unquote(rest, lineno)
            target = ("msgstr", index)
        elif keyword in ("msgctxt", "msgid", "msgid_plural"):
            setattr(entry, keyword, _unquote(rest, lineno))
            target = (keyword, None)
        else:
            raise AssertionError(f"django.po:{lineno}: unexpected line: {raw}")
    finish()
    return entries


def placeholders(text):
    return Counter(p for p in PLACEHOLDER.findall(text) if p != "%%")


@pytest.fixture(scope="module")
def po():
    assert PO.exists(), f"{PO} is missing"
    entries = parse_po(PO)
    headers = [e for e in entries if e.msgid == "" and e.msgctxt is None]
    assert len(headers) == 1, "the catalogue needs exactly one header entry"
    return headers[0], [e for e in entries if e is not headers[0]]


@pytest.fixture(scope="module")
def header(po):
    text = po[0].msgstr[0]
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_header_declares_simplified_chinese_with_one_plural_form(po, header):
    assert "fuzzy" not in po[0].flags, "the header is still marked fuzzy"
    assert header["Language"] == "zh_Hans"
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    assert header["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"


def test_every_entry_is_translated_and_none_is_fuzzy(po):
    _, entries = po
    assert entries, "the catalogue has no entries"
    fuzzy = [str(e) for e in entries if "fuzzy" in e.flags]
    untranslated = [str(e) for e in entries if not e.msgstr or not all(s.strip() for s in e.msgstr.values())]
    assert not fuzzy, "fuzzy entries:\n" + "\n".join(fuzzy)
    assert not untranslated, "untranslated entries:\n" + "\n".join(untranslated)


def test_plural_entries_have_exactly_one_form(po):
    # Chinese has nplurals=1: one msgstr[0], nothing more.
    _, entries = po
    bad = [str(e) for e in entries if e.msgid_plural is not None and sorted(e.msgstr) != [0]]
    assert not bad, "plural entries without exactly msgstr[0]:\n" + "\n".join(bad)


class _AnyArgument(dict):
    def __missing__(self, key):
        return 1


def test_placeholders_match_between_source_and_translation(po):
    _, entries = po
    bad = []
    for e in entries:
        # With one plural form, msgstr[0] serves every count, so it follows msgid_plural.
        wanted = placeholders(e.msgid_plural if e.msgid_plural is not None else e.msgid)
        for index, text in e.msgstr.items():
            got = placeholders(text)
            if got != wanted:
                bad.append(f"{e} [msgstr[{index}]]: {sorted(got.elements())} vs {sorted(wanted.elements())}")
            elif "python-format" in e.flags and "%(" in e.msgid:
                try:  # a stray % in the translation would break formatting at run time
                    text % _AnyArgument()
                except (TypeError, ValueError) as exc:
                    bad.append(f"{e} [msgstr[{index}]]: does not format: {exc}")
    assert not bad, "placeholder mismatches:\n" + "\n".join(bad)


def test_compiled_catalogue_matches_the_po(po, header):
    """The committed .mo was compiled from this .po: every entry comes back as its translation."""
    assert MO.exists(), f"{MO} is missing; run compilemessages"
    _, entries = po
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.info().get("language") == header["Language"]
    stale = []
    for e in entries:
        if e.msgid_plural is not None:
            for n in (1, 2):
                got = (
                    compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n)
                    if e.msgctxt is not None
                    else compiled.ngettext(e.msgid, e.msgid_plural, n)
                )
                if got != e.msgstr[0]:
                    stale.append(f"{e} (n={n}): .mo has {got!r}, .po has {e.msgstr[0]!r}")
        else:
            got = compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else compiled.gettext(e.msgid)
            if got != e.msgstr[0]:
                stale.append(f"{e}: .mo has {got!r}, .po has {e.msgstr[0]!r}")
    assert not stale, "django.mo is older than django.po; run compilemessages:\n" + "\n".join(stale)


# -- the catalogue covers every marked string in the source ----------------------------------------

GETTEXT_FUNCTIONS = {
    "_": (None, 0), "gettext": (None, 0), "gettext_lazy": (None, 0), "gettext_noop": (None, 0),
    "ngettext": (None, 0), "ngettext_lazy": (None, 0),
    "pgettext": (0, 1), "pgettext_lazy": (0, 1), "npgettext": (0, 1), "npgettext_lazy": (0, 1),
}


def python_messages():
    """(context, msgid, file:line) for every gettext call with literal arguments in siyu/**/*.py."""
    for path in sorted(SIYU.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in GETTEXT_FUNCTIONS:
                continue
            ctx_at, id_at = GETTEXT_FUNCTIONS[name]
            args = node.args
            if len(args) <= id_at or not all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args[: id_at + 1]
            ):
                continue
            context = args[ctx_at].value if ctx_at is not None else None
            yield context, args[id_at].value, f"{path.relative_to(SIYU)}:{node.lineno}"


TEMPLATE_CALL = re.compile(r"\b(n?p?gettext)\(((?:\s*u?'(?:[^'\\]|\\.)*'\s*,?)+)")
TEMPLATE_LITERAL = re.compile(r"u?('(?:[^'\\]|\\.)*')")


def template_messages():
    """(context, msgid, file) for every {% translate %} / {% blocktranslate %}, as makemessages sees them."""
    for path in sorted((SIYU / "console" / "templates").rglob("*.html")):
        for match in TEMPLATE_CALL.finditer(templatize(path.read_text(encoding="utf-8"), origin=str(path))):
            literals = [ast.literal_eval(s) for s in TEMPLATE_LITERAL.findall(match.group(2))]
            if match.group(1).startswith(("pgettext", "npgettext")):
                yield literals[0], literals[1], str(path.relative_to(SIYU))
            else:
                yield None, literals[0], str(path.relative_to(SIYU))


def test_every_marked_string_in_the_source_is_in_the_catalogue(po):
    _, entries = po
    known = {(e.msgctxt, e.msgid) for e in entries}
    found = list(python_messages()) + list(template_messages())
    assert len(found) > 100, "the source scan found suspiciously few strings"
    missing = sorted({f"{where}: {msgid!r}" + (f" (context {ctx!r})" if ctx else "")
                      for ctx, msgid, where in found if (ctx, msgid) not in known})
    assert not missing, "marked strings missing from django.po (run makemessages):\n" + "\n".join(missing)


# -- Django serves the catalogue ---------------------------------------------------------------------

def test_django_translates_with_the_catalogue():
    from siyu.core.events import EVENT_LABELS, EventType
    from siyu.groups.models import GroupKind, MembershipRole

    with translation.override("zh-hans"):
        assert str(GroupKind.LEAD.label) == "引流群"
        assert str(MembershipRole.KOC.label) == "气氛组(KOC)"
        assert str(EVENT_LABELS[EventType.ORDER_PAID]) == "已下单付款"
        assert translation.pgettext("link to the admin site", "Admin") == "管理后台"
        assert translation.gettext("Admin") == "管理员"
    with translation.override("en"):
        assert str(GroupKind.LEAD.label) == "Lead group"
        assert translation.pgettext("link to the admin site", "Admin") == "Admin"


@pytest.mark.parametrize(
    ("accept_language", "expected", "absent"),
    [("zh-CN,zh;q=0.9", "登录 Siyu 私域", "Log in to Siyu"), ("en-US,en;q=0.9", "Log in to Siyu", "登录")],
)
def test_the_login_page_follows_the_browser_language(client, accept_language, expected, absent):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE=accept_language)
    assert page.status_code == 200
    html = page.content.decode()
    assert expected in html
    assert absent not in html


# -- every console page is in the reader's language ---------------------------------------------------
#
# Strings built at run time escape the catalogue checks above (a reason stored in the language of whoever ran
# the import, a label a view builds without gettext). So every page of the URLconf is rendered, with real ids of a
# demo workspace, in English and in Chinese: in English no CJK character may remain and in Chinese none of the
# common English UI words, once the data of the workspace (names, message text, tags the operator typed: DATA
# below) is taken out. An element with a lang attribute (the language switch's 简体中文) says it is meant to be in
# that language, one with translate="no" that it is content (the bot's welcome as members will read it).

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
ENGLISH_UI_WORDS = [
    "Name", "Uploaded", "Members", "Member", "Delete", "Save", "Cancel", "Export", "Search", "Next", "Previous",
    "Edit", "Add", "Remove", "Status", "Group", "Groups", "Tags", "Segment", "Segments", "Messages", "Import",
    "Download", "Filter", "Role", "Joined", "Left", "Created", "Updated", "Failed", "Yes", "No", "None", "Back",
    "Show", "Total", "Today", "Days", "Members now", "Last seen", "First seen", "Owner", "Admin", "Operator",
    "Sales", "Viewer", "Staff", "Events", "Leads", "Links", "Outbox", "Retry", "Pending", "Sent", "Error",
    "Dashboard", "Period", "Help", "Apply", "Preview", "Rules", "Settings", "Description", "Remark", "City",
    "Gender", "Phone", "Channel", "Kind", "Unknown", "Active", "Inactive", "Disabled", "Enabled", "minutes",
    "hours", "days", "ago", "Other", "Log out", "Submit", "Reset", "Undo", "Merge", "Lead", "Score", "Assigned", "New",
]
ENGLISH_WORD = re.compile(r"\b(?:%s)\b" % "|".join(sorted(map(re.escape, ENGLISH_UI_WORDS), key=len, reverse=True)))
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label"}


def member_facing_texts():
    """Text that is not the console's but what members read or files hold, in the members' language: the bot's
    default messages and the preview's sample newcomers, the Chinese column names an import recognises, the
    titles of the articles the figures cite."""
    from siyu.analytics.metrics import SOURCES
    from siyu.console.group_rules import SAMPLE_NEWCOMERS
    from siyu.groups.models import DEFAULT_RULES_TEXT, DEFAULT_WARNING_TEXT, DEFAULT_WELCOME_TEXT

    texts = {DEFAULT_RULES_TEXT, DEFAULT_WARNING_TEXT, DEFAULT_WELCOME_TEXT} | {n["name"] for n in SAMPLE_NEWCOMERS}
    texts |= {name for names in imports.HEADER_NAMES.values() for name in names if CJK.search(name)}
    with translation.override("en"):
        texts |= {title for source in SOURCES.values() for title in re.findall(r"“([^”]+)”", str(source))}
    return texts


def data_values(workspace):
    """Every text of the workspace that members, platforms or operators wrote: names, messages, tags, rules…"""
    from siyu.channels.simulator.models import SimulatedDelivery
    from siyu.core.models import Event, OutboxMessage
    from siyu.groups.models import Announcement, BotSettings, Group, KeywordReply, ModerationRule, Strike
    from siyu.links.models import ChannelCode, CodeTarget, Link
    from siyu.members.models import Identity, LeadList, Member, MemberImport, Note, Segment, Tag, TagGroup, TagRule

    sources = [
        (Member, ["display_name", "city", "remark", "profile", "phone", "email", "wechat"]), (Identity, ["display_name", "external_id"]),
        (Group, ["name", "external_id"]), (Tag, ["name", "description"]), (TagGroup, ["name"]), (TagRule, ["name"]),
        (Segment, ["name", "description"]), (Note, ["text"]), (LeadList, ["name"]), (Event, ["data"]),
        (OutboxMessage, ["payload", "target"]), (BotSettings, ["welcome_text", "rules_text", "warning_text"]),
        (KeywordReply, ["pattern", "reply"]), (ModerationRule, ["name", "words"]), (Announcement, ["text"]),
        (Strike, ["rule_name", "excerpt"]), (Link, ["target_url", "campaign", "channel", "tags", "utm_source", "utm_medium",
                                                      "utm_campaign", "utm_term", "utm_content", "slug"]),
        (ChannelCode, ["name"]), (CodeTarget, ["url"]), (MemberImport, ["filename", "mapping"]),
        (SimulatedDelivery, ["payload"]),
    ]
    values = {workspace.name, workspace.slug}

    def walk(value):
        if isinstance(value, str):
            values.add(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for model, fields in sources:
        rows = model.objects.all()
        if any(f.name == "workspace" for f in model._meta.get_fields()):
            rows = rows.filter(workspace=workspace)
        for row in rows.values_list(*fields):
            walk(row)
    for imp in MemberImport.objects.filter(workspace=workspace):  # the file's cells, as the report quotes them
        walk([cells for _line, cells in imports.rows_read(path=imp.path, encoding=imp.encoding)])
    for user in User.objects.all():
        values.update((user.username, user.get_full_name(), user.email))
    values.update(member_facing_texts())
    return sorted((v.strip() for v in values if v and v.strip()), key=len, reverse=True)


class ShownText(HTMLParser):
    """What a reader sees of a page (text and the attributes a browser shows), outside elements marked with a
    lang attribute or translate="no" (a message as members will read it); scripts, styles, code and text areas apart, as `code` (checked for Chinese only)."""

    CODE = {"script", "style", "pre", "code", "textarea"}  # not UI text: scripts, filters as JSON, texts to send
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shown, self.code, self._open = [], [], []  # _open: (tag, marked) of the elements we are in

    def _marked(self):
        return any(marked for _tag, marked in self._open)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        marked = ("lang" in a and tag != "html") or a.get("translate") == "no"
        if not (marked or self._marked()):
            self.shown.extend(v for k, v in attrs if v and (k in SHOWN_ATTRIBUTES or (
                k == "value" and tag in ("input", "button") and a.get("type") in ("submit", "button", "reset"))))
        if tag not in self.VOID:
            self._open.append((tag, marked))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._open.pop()

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):  # tolerate unclosed <p>, <li>, <td>…
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        if self._marked():
            return
        inside = self._open[-1][0] if self._open else ""
        (self.code if inside in self.CODE else self.shown).append(data)


def _without_data(text, data):
    for value in data:
        if len(value) > 2 or not CJK.fullmatch(value):
            text = text.replace(value, "\u2063")
    # a short CJK value (a tag 高, a city 上海) only where it stands alone, so it hides no word of the UI
    short = {v for v in data if len(v) <= 2 and CJK.fullmatch(v)}
    return CJK.sub(lambda m: "\u2063" if m.group(0) in short else m.group(0), text)


def page_text(response, data):
    """(shown text, script text) of a response, the workspace's data taken out."""
    body = response.content.decode("utf-8", "replace")
    if "html" not in response.get("Content-Type", ""):
        return _without_data(body, data), ""
    parser = ShownText()
    parser.feed(body)
    code = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), "\n".join(parser.code))
    return _without_data("\n".join(parser.shown), data), _without_data(code, data)


@pytest.fixture
def demo(db):
    """A workspace like the demo's (crawl's world: simulated groups and members, tags, segments, rules, links,
    codes, lead lists, an outbox message) plus an import checked in Chinese with bad rows."""
    return crawl.side_build("i18n", seed=11)


def console_pages(side):
    """(url, name) of every console page that answers GET, with the workspace's real ids."""
    rng = crawl.fresh_random()
    for pattern in crawl.console_patterns():
        _label, values = crawl.value_sets(pattern, side, side, rng)[0]
        yield crawl.build_url(pattern, values), pattern.name


def rendered_pages(side, language):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(side.users[Role.OWNER])
    data = data_values(side.workspace)
    for url, name in console_pages(side):
        response = client.get(url)
        if response.status_code == 405 or response.streaming or response.get("Content-Type", "").startswith("image/"):
            continue
        shown, code = page_text(response, data)
        yield f"{response.status_code} {url} ({name})", shown, code


def _findings(pattern, pages):
    found = {}
    for where, shown, code in pages:
        words = sorted(set(pattern.findall(shown)) | {f"{w} (in a script)" for w in pattern.findall(code)})
        if words:
            found[where] = words
    return found


def test_every_page_in_english_has_no_chinese_outside_data(demo):
    found = _findings(CJK, rendered_pages(demo, "en"))
    assert not found, "Chinese on English pages (mark the string, or render a stored reason at read time):\n" + \
        "\n".join(f"{where}: {words}" for where, words in found.items())


def test_every_page_in_chinese_has_no_english_ui_words_outside_data(demo):
    found = _findings(ENGLISH_WORD, ((w, s, "") for w, s, _c in rendered_pages(demo, "zh-hans")))
    assert not found, "English UI words on Chinese pages:\n" + "\n".join(f"{where}: {words}" for where, words in found.items())


def test_chinese_pages_tell_a_persons_name_from_a_things_and_name_statuses_and_devices(demo):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(demo.users[Role.OWNER])
    base, ids = f"/w/{demo.workspace.slug}", demo.ids

    def headers(url):
        return re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", client.get(url).content.decode())

    assert "名称" in headers(f"{base}/segments/") and "昵称" not in headers(f"{base}/segments/")
    assert "名称" in headers(f"{base}/bot/rules/") and "名称" in headers(f"{base}/leads/")
    assert "昵称" in headers(f"{base}/segments/{ids['segment_id']}/") and "昵称" in headers(f"{base}/members/")
    imports_page = client.get(f"{base}/members/import/").content.decode()
    assert "<th>上传时间</th>" in imports_page and "<td>已检查</td>" in imports_page  # the column, and the status
    with translation.override("zh-hans"):
        assert str(ImportStatus.UPLOADED.label) == "已上传"
    tags_page = client.get(f"{base}/tags/").content.decode()
    assert "所属标签组 <select" in tags_page and "在群 <select" not in tags_page
    link_page = client.get(f"{base}/links/{ids['link_id']}/").content.decode()
    for label in ("其他", "智能手机", "安卓手机（型号未公开）", "微信", "iPhone", "mp.weixin.qq.com"):
        assert f"<td>{label}</td>" in link_page, label
