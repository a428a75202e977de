"""Media of inbound messages: which files still need fetching, storing them, reading them back.

Files live under ``DATA_DIR/media/<company id>/<message id><ext>``; the message's ``data.media``
records ``path`` (relative), ``size`` and ``mime_type``, or ``error`` when the file could not be
kept (too large, a type we refuse, the provider refused). Downloading is the worker's job
(``app.providers.sender.Sender``).

With S3-compatible storage configured (``configure_remote``, see ``app.storage``), the worker
also copies each kept file to the bucket (``replicate_one``) and records ``remote`` (its key);
a file missing under ``DATA_DIR`` is then fetched back from the bucket when it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.domain import sql
from app.domain.errors import NotFound, ValidationError
from app.domain.events import MessageStatusChanged, emit
from app.domain.sniff import sniff
from app.i18n import N_, gettext
from app.storage import S3Store, StorageError

log = logging.getLogger(__name__)

# Types kept; anything else (executables, scripts, HTML) is refused and only its name shown.
ALLOWED = (
    "image/",
    "audio/",
    "video/",
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.ms-excel",
    "application/zip",
)
INLINE = ("image/jpeg", "image/png", "image/webp", "image/gif", "audio/", "video/")


# The bucket every kept file is copied to, when S3 storage is configured (set at start-up).
REMOTE: S3Store | None = None


def configure_remote(store: S3Store | None) -> None:
    global REMOTE
    REMOTE = store


def allowed(mime: str) -> bool:
    return bool(mime) and mime.startswith(ALLOWED) and mime not in ("image/svg+xml",)


@dataclass(frozen=True)
class PendingMedia:
    message_id: int
    company_id: int
    channel_id: int
    media: dict


async def claim_media() -> PendingMedia | None:
    """One inbound message whose file is not fetched yet, locked (call inside a transaction)."""
    row = await sql.fetchrow(
        """SELECT id, company_id, channel_id, data->'media' AS media FROM message
           WHERE direction = 'in' AND data ? 'media' AND NOT (data->'media' ? 'path') AND NOT (data->'media' ? 'error')
             AND next_attempt_at <= now()
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"""
    )
    if row is None:
        return None
    media = row["media"]
    return PendingMedia(
        row["id"], row["company_id"], row["channel_id"], json.loads(media) if isinstance(media, str) else dict(media)
    )


async def _update(item: PendingMedia, changes: dict) -> None:
    conversation_id = await sql.fetchval(
        """UPDATE message SET data = jsonb_set(data, '{media}', (data->'media') || $2::jsonb) WHERE id = $1
           RETURNING conversation_id""",
        item.message_id,
        json.dumps(changes),
    )
    await emit(MessageStatusChanged(item.company_id, conversation_id, item.message_id, "received"))


async def store_media(data_dir: Path, item: PendingMedia, content: bytes, declared: str) -> None:
    """Keep a fetched file under the type its bytes show (``declared``, from the payload or the
    provider's answer, only tells a .docx from a .zip): a payload cannot make HTML an image."""
    mime = sniff(content, declared)
    if not allowed(mime):
        await _update(item, {"error": f"Files of type {mime} are not kept."})
        return
    ext = mimetypes.guess_extension(mime) or ".bin"
    relative = Path("media") / str(item.company_id) / f"{item.message_id}{ext}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(content)
    tmp.replace(target)
    await _update(item, {"path": str(relative), "size": len(content), "mime_type": mime})


async def media_failed(item: PendingMedia, reason: str) -> None:
    await _update(item, {"error": reason})


async def retry_media_later(item: PendingMedia, seconds: float, tries: int = 0) -> None:
    """Try again in ``seconds``; ``tries`` (kept in the media) bounds the attempts (the worker gives up)."""
    await sql.execute(
        """UPDATE message SET next_attempt_at = now() + make_interval(secs => $2),
                  data = jsonb_set(data, '{media,tries}', to_jsonb($3::int)) WHERE id = $1""",
        item.message_id,
        float(seconds),
        tries,
    )


async def get_media_file(company_id: int, message_id: int, data_dir: Path) -> tuple[Path, str, str]:
    """The stored file of a message of this company: (path, mime type, download name)."""
    if not 0 < message_id < 2**63:
        raise NotFound(N_("No such file."))
    media = await sql.fetchval(
        "SELECT data->'media' FROM message WHERE company_id = $1 AND id = $2", company_id, message_id
    )
    media = json.loads(media) if isinstance(media, str) else media
    if not media or not media.get("path"):
        raise NotFound(N_("No such file."))
    path = (data_dir / media["path"]).resolve()
    if data_dir.resolve() not in path.parents:
        raise NotFound(N_("No such file."))
    if not path.is_file() and media.get("remote") and REMOTE is not None:
        await _restore(path, media["remote"])
    if not path.is_file():
        raise NotFound(N_("No such file."))
    return path, media.get("mime_type") or "application/octet-stream", media.get("filename") or path.name


async def _restore(path: Path, key: str) -> None:
    """Bring a file back from the bucket into the local cache (DATA_DIR/media)."""
    try:
        content = await REMOTE.get(key) if REMOTE is not None else None
    except StorageError as exc:
        log.warning("could not fetch %s from the bucket: %s", key, exc.reason)
        return
    if content is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{uuid.uuid4().hex}.part")
    tmp.write_bytes(content)
    tmp.replace(path)


# Kept files not yet in the bucket, due now (the partial index message_media_remote_idx).
_UNREPLICATED = """
SELECT id, data->'media' AS media FROM message
WHERE data ? 'media' AND (data->'media' ? 'path') AND NOT (data->'media' ? 'remote')
  AND coalesce((data->'media'->>'remote_retry_at')::timestamptz, '-infinity') <= now()
ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
"""


async def replicate_one(data_dir: Path, retry_seconds: float = 30.0) -> bool:
    """Copy one kept file to the bucket (False: nothing to copy, or no bucket configured).

    The row stays locked while the file is sent, so several workers never send the same file;
    a failure is retried after ``retry_seconds``. A file gone from DATA_DIR is marked so."""
    if REMOTE is None:
        return False
    async with sql.transaction():
        row = await sql.fetchrow(_UNREPLICATED)
        if row is None:
            return False
        media = json.loads(row["media"]) if isinstance(row["media"], str) else dict(row["media"])
        local = (data_dir / media["path"]).resolve()
        if data_dir.resolve() not in local.parents or not local.is_file():
            changes = {"remote_error": "The file is missing under DATA_DIR.", "remote_retry_at": "infinity"}
        else:
            try:
                await REMOTE.put(
                    media["path"], local.read_bytes(), media.get("mime_type") or "application/octet-stream"
                )
                changes = {"remote": media["path"]}
            except StorageError as exc:
                log.warning("could not copy %s to the bucket: %s", media["path"], exc.reason)
                changes = {"remote_error": exc.reason[:300], "remote_retry_at": f"now+{retry_seconds}"}
        if changes.get("remote_retry_at", "").startswith("now+"):
            await sql.execute(
                """UPDATE message SET data = jsonb_set(data, '{media}', (data->'media') || jsonb_build_object(
                       'remote_error', $2::text, 'remote_retry_at', now() + make_interval(secs => $3))) WHERE id = $1""",
                row["id"],
                changes["remote_error"],
                float(retry_seconds),
            )
        else:
            await sql.execute(
                "UPDATE message SET data = jsonb_set(data, '{media}', ((data->'media') - 'remote_error') || $2::jsonb) WHERE id = $1",
                row["id"],
                json.dumps(changes),
            )
    return True


def kind_of(mime: str) -> str:
    major = mime.split("/")[0]
    return {"image": "image", "audio": "audio", "video": "video"}.get(major, "document")


def save_upload(data_dir: Path, company_id: int, content: bytes, mime: str, filename: str, max_bytes: int) -> dict:
    """Keep a file uploaded by a user (agent reply, simulator); returns the message's media dict."""
    mime = (mime or "application/octet-stream").split(";")[0].strip().lower()
    if not content:
        raise ValidationError({"file": N_("The file is empty.")})
    if len(content) > max_bytes:
        raise ValidationError({"file": gettext("Files may be at most %(mb)d MB.") % {"mb": max_bytes // 1_000_000}})
    if not allowed(mime):
        raise ValidationError({"file": gettext("Files of type %(mime)s cannot be sent.") % {"mime": mime}})
    relative = Path("media") / str(company_id) / f"up-{uuid.uuid4().hex}{mimetypes.guess_extension(mime) or '.bin'}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    name = Path(filename or "").name[:200] or relative.name
    return {"type": kind_of(mime), "path": str(relative), "size": len(content), "mime_type": mime, "filename": name}


# How long a signed link to an outbound file works: the provider fetches it while sending (each
# send attempt signs a new one), so an hour is plenty, and a leaked link soon stops working.
LINK_SECONDS = 3600


def media_token(secret: str, message_id: int, path: str, now: float | None = None) -> str:
    """Signs the public address a provider downloads an outbound file from: ``<expiry>.<signature>``."""
    expires = int((now if now is not None else time.time()) + LINK_SECONDS)
    return f"{expires}.{_signature(secret, message_id, path, expires)}"


def _signature(secret: str, message_id: int, path: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{message_id}:{path}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def _token_valid(secret: str, message_id: int, path: str, token: str) -> bool:
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) < time.time():
        return False
    return hmac.compare_digest(_signature(secret, message_id, path, int(expires_text)), signature)


async def get_public_media(message_id: int, token: str, secret: str, data_dir: Path) -> tuple[Path, str, str]:
    """An outbound message's file for the provider (no login: the signed token is the key)."""
    if not 0 < message_id < 2**63:
        raise NotFound(N_("No such file."))
    row = await sql.fetchrow(
        "SELECT company_id, data->'media' AS media FROM message WHERE id = $1 AND direction = 'out'", message_id
    )
    media = (json.loads(row["media"]) if isinstance(row["media"], str) else row["media"]) if row else None
    if row is None or not media or not media.get("path") or not _token_valid(secret, message_id, media["path"], token):
        raise NotFound(N_("No such file."))
    return await get_media_file(row["company_id"], message_id, data_dir)
