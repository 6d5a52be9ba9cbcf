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
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation.template import templatize

import siyu

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
