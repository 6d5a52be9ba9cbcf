"""Text helpers every app shares."""

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key that orders numbers inside text by value: "1群" < "2群" < "10群" (case-insensitive)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold()) for part in _DIGITS.split(text or "") if part)
