"""QR codes of otpauth URIs, as standalone SVG documents (segno)."""

from __future__ import annotations

import io

import segno


def qr_svg(text: str) -> str:
    """``text`` as a QR code (error correction M), an SVG with its namespace, so that it can
    be shown inline or as an image."""
    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", xmldecl=False, scale=4, border=4, svgclass=None, lineclass=None)
    return out.getvalue().decode()
