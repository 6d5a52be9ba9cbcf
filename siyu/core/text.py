"""Text helpers every app shares."""

import re
from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key that orders numbers inside text by value: "1群" < "2群" < "10群" (case-insensitive)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold()) for part in _DIGITS.split(text or "") if part)


class TranslatableText(str):
    """A message that reads in the language active when it was made and remembers its catalogue msgid and
    params, so that a copy stored as JSON (text_json) is shown again in the reader's language (text_render).

    Made like gettext: ``TranslatableText("There is no tag “%(tag)s”.") % {"tag": name}`` (a module may bind
    it to ``_`` so that makemessages finds its strings). Params may be TranslatableTexts themselves.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None) -> "TranslatableText":
        values = dict(params or {})
        text = gettext(msgid) % values if values else gettext(msgid)
        made = super().__new__(cls, text)
        made.msgid, made.params = msgid, values
        return made

    def __mod__(self, params: Any) -> "TranslatableText":
        return TranslatableText(self.msgid, params)


def text_json(value: Any) -> Any:
    """`value` as JSON that keeps what text_render needs: a TranslatableText as {"msgid", "params"}, lists and
    dicts item by item, any other value as it is (plain text is shown as stored)."""
    if isinstance(value, TranslatableText):
        return {"msgid": value.msgid, "params": {k: text_json(v) for k, v in value.params.items()}}
    if isinstance(value, (list, tuple)):
        return [text_json(v) for v in value]
    if isinstance(value, dict):
        return {k: text_json(v) for k, v in value.items()}
    if isinstance(value, Promise):
        return str(value)
    return value


def text_render(value: Any) -> str:
    """What text_json stored, in the active language: a message translated and formatted, a list of messages
    joined by spaces, plain text as it is."""
    if isinstance(value, dict) and "msgid" in value:
        params = {k: text_render(v) if isinstance(v, (dict, list)) else v for k, v in (value.get("params") or {}).items()}
        message = gettext(value["msgid"])
        return message % params if params else message
    if isinstance(value, list):
        return " ".join(text_render(v) for v in value)
    return "" if value is None else str(value)
