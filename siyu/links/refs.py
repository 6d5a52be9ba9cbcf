"""Signed member references: the `m=` parameter of a member's own link or poster QR.

A reference is `<member id in base 36>.<signature>`, e.g. `2s.q8Z0v3mK1aBcD9eF`: short enough to keep a
printed QR small, URL-safe, and signed with django.core.signing (salt "siyu.links.member", so
SECRET_KEY_FALLBACKS rotate it like any other signature). The signature covers the workspace id too
without printing it: a reference made in one workspace does not read in another. Reading needs no
database query (it runs on the redirect's hot path); the member may since have been merged or removed,
which whoever records the click checks.
"""
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.utils.http import base36_to_int, int_to_base36

SALT = "siyu.links.member"
SEPARATOR = "."
# 16 base64 characters: 96 bits of the HMAC-SHA256, plenty against guessing and half the length.
SIGNATURE_LENGTH = 16
if TYPE_CHECKING:
    from siyu.core.models import Workspace

MAX_LENGTH = 13 + 1 + SIGNATURE_LENGTH  # base36_to_int takes at most 13 digits


class _ShortSigner(signing.Signer):
    def signature(self, value: str | bytes, key: Any = None) -> str:
        return super().signature(value, key)[:SIGNATURE_LENGTH]


def _signer() -> _ShortSigner:
    return _ShortSigner(salt=SALT, sep=SEPARATOR)


def _workspace_id(workspace: "Workspace | int") -> int:
    return workspace if isinstance(workspace, int) else workspace.pk


def member_ref(member: Any) -> str:
    """The signed reference of `member` (a Member), the same every time for the same member and key."""
    number = int_to_base36(member.pk)
    signed = _signer().sign(f"{int_to_base36(member.workspace_id)}{SEPARATOR}{number}")
    return signed.split(SEPARATOR, 1)[1]


def member_ref_read(value: object, workspace: "Workspace | int") -> int | None:
    """The member id a reference names, or None when it is malformed, forged or from another workspace.

    `workspace` is a Workspace or its id. Never raises on bad input and never queries the database.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LENGTH or value.count(SEPARATOR) != 1:
        return None
    number = value.split(SEPARATOR, 1)[0]
    if not number.isalnum() or not number.isascii() or number != number.lower():
        return None
    try:
        _signer().unsign(f"{int_to_base36(_workspace_id(workspace))}{SEPARATOR}{value}")
        member_id = base36_to_int(number)
    except (signing.BadSignature, ValueError):
        return None
    return member_id or None
