"""QR codes of short links and channel codes, as SVG or PNG (segno), and as a Pillow image for posters.

A QR always encodes the printed short URL with the scan marker `qr=1`, so scans and clicks are counted
apart, and optionally a member's signed reference `m=…` (siyu.links.refs). Error correction is Q (25 %
of the symbol may be lost: a crease, a smudge, a logo sticker), raised further by segno when that
costs no extra size. The same URL and options always give the same bytes.
"""
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno

from .refs import member_ref

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

SCAN_PARAMETER = "qr"
MEMBER_PARAMETER = "m"
ERROR_CORRECTION = "q"
BORDER = 4  # the quiet zone the QR standard asks for, in modules
MAX_SCALE = 40
MAX_SIZE = 4000  # pixels: an A3 poster at 300 dpi needs about 3500


def scan_url(url: str, *, member: Any = None) -> str:
    """`url` with the scan marker and, for a member's own code, their signed reference."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in (SCAN_PARAMETER, MEMBER_PARAMETER)]
    query.append((SCAN_PARAMETER, "1"))
    if member is not None:
        query.append((MEMBER_PARAMETER, member_ref(member)))
    return urlunsplit(parts._replace(query=urlencode(query, safe=".")))


def qr_code(url: str) -> segno.QRCode:
    """The segno symbol of `url` (already a scan URL)."""
    return segno.make(url, error=ERROR_CORRECTION, boost_error=True, micro=False)


def _scale_for(code: segno.QRCode, size: int, border: int) -> int:
    """The largest whole number of pixels per module that keeps the symbol within `size` pixels."""
    width = int(code.symbol_size(scale=1, border=border)[0])
    return max(1, min(MAX_SCALE, size // width))


def qr_svg(url: str, *, scale: float = 10, border: int = BORDER, dark: str = "#000", light: str = "#fff") -> bytes:
    """The QR of `url` as an SVG document (bytes); `scale` is the size of one module in SVG units."""
    buffer = BytesIO()
    qr_code(url).save(buffer, kind="svg", scale=scale, border=border, dark=dark, light=light, xmldecl=True,
                      title=url)
    return buffer.getvalue()


def qr_png(url: str, *, size: int | None = None, scale: int = 10, border: int = BORDER) -> bytes:
    """The QR of `url` as a PNG (bytes), `scale` pixels per module, or as many as fit in `size` pixels."""
    code = qr_code(url)
    if size is not None:
        scale = _scale_for(code, min(size, MAX_SIZE), border)
    buffer = BytesIO()
    code.save(buffer, kind="png", scale=min(scale, MAX_SCALE), border=border)
    return buffer.getvalue()


def qr_layout(code: segno.QRCode, *, size: int, border: int = BORDER) -> tuple[int, int, int]:
    """Where `qr_image` draws `code` in a `size`-pixel square: (modules per side, pixels per module,
    offset of the first module from the top left corner)."""
    modules = int(code.symbol_size(scale=1, border=0)[0])
    scale = _scale_for(code, size, border)
    return modules, scale, (size - (modules + 2 * border) * scale) // 2 + border * scale


def qr_image(url: str, *, size: int, border: int = BORDER) -> "PILImage":
    """The QR of `url` as a Pillow image of exactly `size`×`size` pixels, centred on white, each module
    a whole number of pixels (no blur when printed)."""
    from PIL import Image

    code = qr_code(url)
    modules, scale, offset = qr_layout(code, size=size, border=border)
    symbol = Image.new("L", (modules, modules), 255)
    symbol.putdata([0 if dark else 255 for row in code.matrix for dark in row])
    image = Image.new("L", (size, size), 255)
    image.paste(symbol.resize((modules * scale, modules * scale), Image.Resampling.NEAREST), (offset, offset))
    return image
