"""The type of a file, read from its first bytes (magic numbers), never from what a payload says.

The declared type only chooses between types that share one container (a .docx and a .zip are
both ZIP; an .m4a and an .mp4 are both ISO media); anything not recognised is
``application/octet-stream``, which ``app.domain.media.allowed`` refuses to keep.
"""

from __future__ import annotations

OOXML = "application/vnd.openxmlformats-officedocument."
OLE_TYPES = (
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
)
UNKNOWN = "application/octet-stream"


def _iso_media(head: bytes, declared: str) -> str:
    brand = head[8:12]
    if brand.startswith(b"3g2"):
        return "audio/3gpp2" if declared.startswith("audio/") else "video/3gpp2"
    if brand.startswith(b"3gp"):
        return "audio/3gpp" if declared.startswith("audio/") else "video/3gpp"
    if brand in (b"M4A ", b"M4B ") or declared.startswith("audio/"):
        return "audio/mp4"
    if brand == b"qt  ":
        return "video/quicktime"
    return "video/mp4"


def _text(content: bytes) -> bool:
    sample = content[:4096]
    if b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return False
        text = sample[: exc.start].decode("utf-8")
    lowered = text.lstrip().lower()
    # Markup a browser could render as a page is never "plain text".
    return not lowered.startswith(("<!doctype", "<html", "<svg", "<script", "<?xml", "<body", "<head", "<iframe"))


def sniff(content: bytes, declared: str = "") -> str:
    """The type ``content`` really is (``declared`` only disambiguates a container)."""
    declared = (declared or "").split(";")[0].strip().lower()
    head = content[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "video/ogg" if declared.startswith("video/") else "audio/ogg"
    if head[4:8] == b"ftyp":
        return _iso_media(head, declared)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm" if declared.startswith("audio/") else "video/webm"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "audio/aac"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"PK\x03\x04"):
        return declared if declared.startswith(OOXML) else "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return declared if declared in OLE_TYPES else "application/msword"
    if content and _text(content):
        return "text/plain"
    return UNKNOWN
