"""Posters: a background image, a link's QR and one line of Chinese text, drawn with Pillow.

The background is an uploaded image (scaled and cropped to the poster) or a built-in one drawn here.
The text needs a CJK font: SIYU_POSTER_FONT names one, else Debian's fonts-noto-cjk or fonts-wqy
(`apt-get install fonts-noto-cjk`) are looked for; without one, drawing a poster raises
PosterFontMissing instead of printing boxes where the characters should be. A member's poster carries
that member's signed reference in its QR (siyu.links.qr.scan_url), so visits through it are theirs.
Rendering is deterministic: the same inputs give the same PNG bytes.
"""
import os
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
from PIL.Image import Image as PILImage

from .qr import qr_image, scan_url

FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
]
FONT_ENV = "SIYU_POSTER_FONT"
MAX_BACKGROUND_PIXELS = 40_000_000  # a 40-megapixel photo; larger uploads are refused, not decoded
MAX_BACKGROUND_BYTES = 15 * 1024 * 1024
MAX_TEXT = 40

# Where the QR goes: the left edge of its box as a share of the free width, and its top as a share
# of the free height (the box is a square of `qr_size` pixels).
POSITIONS = {
    "center": (0.5, 0.5),
    "bottom-center": (0.5, 0.82),
    "bottom-right": (0.92, 0.92),
    "bottom-left": (0.08, 0.92),
    "top-right": (0.92, 0.08),
}


class PosterFontMissing(RuntimeError):
    """No font that can draw Chinese is installed."""


@dataclass(frozen=True)
class PosterLayout:
    """A poster's size and where its QR and its text line go, in pixels."""

    width: int = 1080
    height: int = 1920
    qr_size: int = 560
    position: str = "bottom-center"
    text_top: int = 300
    text_height: int = 140
    text_color: str = "#ffffff"

    def qr_box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the QR."""
        x_share, y_share = POSITIONS[self.position]
        left = round((self.width - self.qr_size) * x_share)
        top = round((self.height - self.qr_size) * y_share)
        return left, top, left + self.qr_size, top + self.qr_size

    def text_box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the text line: the poster's width less a margin."""
        margin = self.width // 12
        return margin, self.text_top, self.width - margin, self.text_top + self.text_height

    def check(self) -> None:
        if not (200 <= self.width <= 4000 and 200 <= self.height <= 4000):
            raise ValidationError(_("A poster is 200 to 4000 pixels wide and high."))
        if self.position not in POSITIONS:
            raise ValidationError(_("Unknown QR position %(position)s.") % {"position": self.position})
        if not 100 <= self.qr_size <= min(self.width, self.height):
            raise ValidationError(_("The QR is at least 100 pixels and fits on the poster."))
        if not 0 <= self.text_top <= self.height - self.text_height or self.text_height < 20:
            raise ValidationError(_("The text line must lie on the poster."))
        _left, qr_top, _right, qr_bottom = self.qr_box()
        text_top, text_bottom = self.text_box()[1::2]
        if text_top < qr_bottom and qr_top < text_bottom:
            raise ValidationError(_("The text line would cover the QR: move the text or the QR."))


def cjk_font_path() -> str:
    """The font file posters draw their text with; PosterFontMissing with what to install when none."""
    chosen = os.environ.get(FONT_ENV)
    candidates = [chosen] if chosen else FONT_CANDIDATES
    for path in candidates:
        if Path(path).is_file():
            return path
    if chosen:
        raise PosterFontMissing(_("%(setting)s=%(path)s: there is no such font file.") % {"setting": FONT_ENV, "path": chosen})
    raise PosterFontMissing(_(
        "No font that can draw Chinese is installed: install Debian's fonts-noto-cjk "
        "(apt-get install fonts-noto-cjk) or fonts-wqy-microhei, or set SIYU_POSTER_FONT to a CJK font file."
    ))


@lru_cache(maxsize=8)
def _font_index(path: str) -> int:
    """The Simplified Chinese face of a font collection (Noto's .ttc holds JP, KR, SC, TC, HK)."""
    for index in range(12):
        try:
            family, _style = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:
            break
        if family and family.endswith(" SC"):  # a face may have no family name
            return index
    return 0


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=_font_index(path), layout_engine=ImageFont.Layout.BASIC)


def background_read(data: bytes) -> PILImage:
    """An uploaded background (bytes) as an RGB image; ValidationError when it is not an image we draw on."""
    if len(data) > MAX_BACKGROUND_BYTES:
        raise ValidationError(_("The background image is larger than 15 MB."))
    try:
        image = Image.open(BytesIO(data))
        if image.width * image.height > MAX_BACKGROUND_PIXELS:
            raise ValidationError(_("The background image has more than 40 million pixels."))
        if image.format not in ("PNG", "JPEG", "WEBP", "GIF"):
            raise ValidationError(_("The background must be a PNG, JPEG, WebP or GIF image."))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError(_("The background is not an image that can be read (PNG, JPEG, WebP or GIF).")) from None
    return ImageOps.exif_transpose(image).convert("RGB")


def default_background(width: int, height: int) -> PILImage:
    """The built-in background: a teal gradient with two soft circles (drawn, so no asset to ship)."""
    top, bottom = (15, 118, 110), (8, 51, 68)
    column = Image.new("RGB", (1, height))
    column.putdata([
        tuple(round(a + (b - a) * y / max(1, height - 1)) for a, b in zip(top, bottom)) for y in range(height)
    ])
    image = column.resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.ellipse((-width // 3, -width // 4, width // 2, width // 2), fill=(255, 255, 255, 22))
    draw.ellipse((width // 2, height - width // 2, width + width // 3, height + width // 5), fill=(245, 158, 11, 40))
    return image


def _fitted_font(path: str, text: str, box_width: int, box_height: int) -> ImageFont.FreeTypeFont:
    size = box_height * 3 // 4
    font = _font(path, size)
    while size > 12 and font.getlength(text) > box_width:
        size = max(12, int(size * box_width / font.getlength(text)))
        font = _font(path, size)
    return font


def poster_image(
    *, url: str, text: str, layout: PosterLayout = PosterLayout(), background: PILImage | None = None, member: Any = None
) -> PILImage:
    """The poster of `url` (a short URL) as a Pillow RGB image.

    The QR encodes scan_url(url, member=member); `background` is a Pillow image (see background_read)
    or None for the built-in one; `text` is one line, shrunk to fit the poster's width.
    """
    layout.check()
    text = " ".join(text.split())[:MAX_TEXT]
    font_path = cjk_font_path() if text else None
    size = (layout.width, layout.height)
    if background is None:
        image = default_background(*size)
    else:
        image = ImageOps.fit(background.convert("RGB"), size, Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = layout.qr_box()
    # A white card a little larger than the QR's own quiet zone keeps it readable on a busy photo.
    pad = layout.qr_size // 24
    draw.rounded_rectangle((left - pad, top - pad, right + pad, bottom + pad), radius=pad * 2, fill="#ffffff")
    image.paste(qr_image(scan_url(url, member=member), size=layout.qr_size).convert("RGB"), (left, top))
    if text and font_path:
        box_left, box_top, box_right, box_bottom = layout.text_box()
        font = _fitted_font(font_path, text, box_right - box_left, box_bottom - box_top)
        centre = ((box_left + box_right) // 2, (box_top + box_bottom) // 2)
        draw.text(centre, text, font=font, fill=layout.text_color, anchor="mm")
    return image


def poster_png(**kwargs: Any) -> bytes:
    """The poster (see poster_image) as PNG bytes."""
    buffer = BytesIO()
    poster_image(**kwargs).save(buffer, format="PNG")
    return buffer.getvalue()
