"""The bot's rules as pure functions: pattern checks, matching, text variables and quiet hours.

Nothing here touches the database, so the console's forms, the bot and the tests share one
definition of what a rule matches.
"""
import functools
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

import re2
from django.utils.translation import gettext as _

WELCOME_VARIABLES = ("name", "number", "group", "rules")
REPLY_VARIABLES = ("name", "number", "group", "rules")
WARNING_VARIABLES = ("name", "rule", "strike", "limit")
EXCERPT_LENGTH = 200

_VARIABLE = re.compile(r"\{(\w*)\}")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")

# Links: a scheme or www. prefix, or a bare host with a common top-level domain. A host right after
# "@" or ":" is an e-mail address or a Matrix user id (@bob:example.org), not a link.
_URL = re.compile(r"(?i)\b(?:https?://|www\.)([^\s/?#<>\"'，。）)]+)[^\s<>\"']*")
_BARE_HOST = re.compile(
    r"(?i)(?<![@:\w.\-/])((?:[a-z0-9-]+\.)+(?:com|cn|net|org|io|cc|top|xyz|me|co|info|vip|shop|link|app|site|ly|gg|tv))\b"
)
# Invite codes: Matrix room aliases and ids (#room:server, !id:server), matrix.to links, WeChat and
# WeCom group-invite links, and the phrases ads use to pull people into another group.
_MATRIX_ROOM = re.compile(r"(?<![\w/])[#!][A-Za-z0-9._=\-/+]+:((?:[A-Za-z0-9\-]+\.)*[A-Za-z0-9\-]+)(?::\d+)?")
_MATRIX_TO = re.compile(r"(?i)matrix\.to/#/[#!@+]?[^\s:]+:((?:[a-z0-9\-]+\.)*[a-z0-9\-]+)")
_WECHAT_INVITE = re.compile(r"(?i)\b((?:work\.)?weixin\.qq\.com)/(?:g|gm|ca|wework_admin/join)/\S*")
INVITE_PHRASES = (
    "扫码进群", "扫码入群", "扫码加群", "拉你进群", "进群领", "群二维码", "加我微信", "加微信", "加v", "加vx",
    "+v", "+vx", "vx:", "vx：", "wx:", "wx：", "微信号", "qq群", "企业微信群", "加群请",
)


# Operators' patterns run on RE2: linear in the text whatever the pattern, so a rule such as (a+)+$ cannot hold
# ingest's write lock. Its parse errors are logged by the library unless told otherwise.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def pattern_error(pattern: str) -> str | None:
    """Why `pattern` cannot be a rule's regular expression, or None.

    A syntax error names its position (from Python's parser); a valid pattern RE2 cannot run in linear
    time (look-around, back-references) is refused with RE2's reason.
    """
    try:
        _compiled(pattern)
    except re2.error as exc:
        try:
            re.compile(pattern)
        except re.error as syntax:
            position = syntax.pos if syntax.pos is not None else 0
            return _("Not a valid regular expression: %(reason)s at position %(position)s (…%(near)s)") % {
                "reason": syntax.msg, "position": position, "near": pattern[position:position + 10] or _("the end"),
            }
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return _(
            "Siyu runs patterns in linear time (RE2) and cannot run this one: %(reason)s. "
            "Look-ahead, look-behind and back-references such as \\1 are not supported."
        ) % {"reason": reason}
    return None


def variables_error(text: str, allowed: Collection[str]) -> str | None:
    """Why `text` uses a variable other than `allowed` ("{name}", …), or None."""
    unknown = sorted({name for name in _VARIABLE.findall(text) if name not in allowed})
    if unknown:
        return _("Unknown variable %(unknown)s; you can use %(allowed)s.") % {
            "unknown": ", ".join("{%s}" % name for name in unknown),
            "allowed": ", ".join("{%s}" % name for name in allowed),
        }
    return None


def domains_error(text: str) -> str | None:
    """Why a list of domains (one a line) is not valid, naming the first bad line, or None."""
    for line_number, line in enumerate(text.splitlines(), start=1):
        domain = line.strip().lower()
        if domain and not _DOMAIN.match(domain):
            return _("Line %(line)s: %(domain)r is not a domain like example.com (no https://, no path).") % {
                "line": line_number, "domain": line.strip(),
            }
    return None


def render_text(template: str, values: Mapping[str, object]) -> str:
    """Fill {variables} in an operator's text; unknown or stray braces are left as written."""
    return _VARIABLE.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def mentions_build(people: Iterable[Mapping[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """The mention text and the `mentions` of a send_text naming `people`: ("@A @B", [{"id", "name"}]).

    Every bot text (welcome, reply, warning) mentions through this, so each name carries exactly one
    "@" however it arrived ("@carol:example.org" when a platform gave no display name), and the name
    in the text is the name the adapter turns into a pill.
    """
    named = [{"id": person["id"], "name": mention_name(person)} for person in people]
    return " ".join(f"@{person['name']}" for person in named), named


def mention_name(person: Mapping[str, Any]) -> str:
    """A person's name as a mention shows it: without the "@" a user id starts with."""
    return str(person.get("name") or "").strip().lstrip("@").strip() or str(person["id"]).lstrip("@")


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, options=_RE2_OPTIONS)


def reply_matches(*, match: str, pattern: str, text: str) -> bool:
    """Whether a keyword reply fires for `text`: exact and contains ignore case and outer spaces."""
    if match == "regex":
        try:
            return _compiled(pattern).search(text) is not None
        except re2.error:
            return False  # saved before RE2 checked it: never fire rather than crash the bot (flagged on the rule page)
    needle, haystack = pattern.strip().casefold(), text.strip().casefold()
    if not needle:
        return False
    return haystack == needle if match == "exact" else needle in haystack


def domain_allowed(host: str, allowed: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return any(host == domain or host.endswith("." + domain) for domain in allowed)


def link_hosts(text: str) -> list[str]:
    """Hosts of the links in `text`, in order."""
    hosts = [m.group(1).split("@")[-1].split(":")[0] for m in _URL.finditer(text)]
    stripped = _URL.sub(" ", text)
    hosts += [m.group(1) for m in _BARE_HOST.finditer(stripped)]
    return [h.lower() for h in hosts if h]


def invite_codes(text: str) -> list[tuple[str, str | None]]:
    """(code, host or None) for every invite in `text`; host is where the invite leads, for the allow-list."""
    found: list[tuple[str, str | None]] = []
    found += [(m.group(0), m.group(1).lower()) for m in _MATRIX_TO.finditer(text)]
    without_links = _MATRIX_TO.sub(" ", text)
    found += [(m.group(0), m.group(1).lower()) for m in _MATRIX_ROOM.finditer(without_links)]
    found += [(m.group(0), m.group(1).lower()) for m in _WECHAT_INVITE.finditer(text)]
    return found


def moderation_matches(*, kind: str, words: str, text: str, allowed_domains: Iterable[str]) -> str | None:
    """What in `text` breaks a moderation rule of this kind (a short description), or None."""
    if kind == "words":
        folded = text.casefold()
        for word in (w.strip() for w in words.splitlines()):
            if word and word.casefold() in folded:
                return word
        return None
    if kind == "regex":
        pattern = words.strip()
        try:
            found = _compiled(pattern).search(text) if pattern else None
        except re2.error:
            return None  # saved before RE2 checked it: no match (flagged on the rule page)
        return found.group(0) or pattern if found else None
    if kind == "links":
        for host in link_hosts(text):
            if not domain_allowed(host, allowed_domains):
                return host
        return None
    if kind == "invites":
        for code, invite_host in invite_codes(text):
            if invite_host is None or not domain_allowed(invite_host, allowed_domains):
                return code
        folded = text.casefold()
        phrases = INVITE_PHRASES + tuple(w.strip().casefold() for w in words.splitlines() if w.strip())
        for phrase in phrases:
            if phrase in folded:
                return phrase
        return None
    return None


def in_quiet_hours(*, start: time | None, end: time | None, local_time: time) -> bool:
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end  # wraps midnight, e.g. 22:00-08:00


def quiet_hours_defer(*, bot_settings: Any, due_at: datetime, tz: tzinfo) -> datetime:
    """`due_at`, or the end of the group's quiet hours if it falls inside them (local time, may wrap midnight).

    Every send of the bot except moderation goes through this, so a welcome, a reply or an
    announcement queued at 23:00 with quiet hours 22:00-08:00 waits until 08:00.
    """
    start, end = bot_settings.quiet_start, bot_settings.quiet_end
    local = due_at.astimezone(tz)
    if not in_quiet_hours(start=start, end=end, local_time=local.time()):
        return due_at
    end_day = local.date()
    if start > end and local.time() >= start:
        end_day += timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz)
