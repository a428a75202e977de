"""Settings read from the environment, each one documented.

Every field of :class:`Settings` is one environment variable of the same name in upper case.
`tests/test_settings.py` checks that each is described in README.md. Nothing else in the
package reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from app.netpolicy import parse_networks

ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


def _choice(name: str, options: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or options[0]).strip().lower()
    if raw not in options:
        raise SystemExit(f"{name} must be one of {', '.join(options)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Construct with :meth:`from_env`; tests pass fields directly."""

    # PostgreSQL DSN. Empty: start an embedded PostgreSQL (pgserver) under DATA_DIR/pgdata.
    database_url: str = ""
    # A direct (unpooled) connection to the same database, for what a transaction-mode pooler
    # (PgBouncer) cannot carry: LISTEN, session advisory locks (leadership, migrations), pg_dump.
    # Empty: DATABASE_URL. When set, DATABASE_URL is taken to be such a pooler (no prepared statements).
    database_direct_url: str = ""
    # A read replica (streaming standby) for the heavy reads: metrics, wallboard day totals,
    # CDR search and exports. Empty, or unreachable: the primary.
    database_read_url: str = ""
    # Signs session cookies and CSRF tokens. Empty: generated once, kept in DATA_DIR/secret_key.
    secret_key: str = ""
    # Where the embedded database, uploaded media and the generated secret live.
    data_dir: Path = field(default_factory=lambda: ROOT / "data")
    # Public address of the app, used in links and webhook URLs; https makes cookies Secure.
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Number of server processes `switchboard serve` starts.
    workers: int = 1
    log_level: str = "INFO"
    # Log lines as JSON objects (one per line) instead of key=value text.
    log_json: bool = False
    # Idle lifetime of a login session, in seconds (renewed on every request).
    session_max_age: int = 8 * 3600
    # Longest life of a login session however busy, in seconds (then the user logs in again).
    session_absolute_max_age: int = 12 * 3600
    # Failed logins allowed per account and per address within LOGIN_THROTTLE_WINDOW seconds.
    login_max_failures: int = 5
    login_throttle_window: int = 900
    # Largest request body accepted, in bytes (forms, webhooks, API).
    max_body_bytes: int = 1_000_000
    # Seconds between SSE keep-alive comments (each also counts as the agent's heartbeat).
    sse_keepalive: int = 15
    # Largest provider webhook body accepted, in bytes (413 beyond).
    webhook_max_bytes: int = 256_000
    # Run the outbound sender worker in this process (several processes are safe).
    sender_enabled: bool = True
    # Milliseconds the sender worker waits between polls of an empty outbox.
    sender_poll_ms: int = 300
    # Attempts at sending one message through transient errors before it is marked failed.
    sender_max_attempts: int = 20
    # Largest inbound media file kept, in bytes (larger ones are shown by name only).
    media_max_bytes: int = 16_000_000
    # Requests per minute per API key (/api/v1), unless the key has its own limit.
    api_rate_limit: int = 120
    # Attempts at delivering one outbound webhook before it is marked failed (backoff doubles).
    webhook_max_attempts: int = 12
    # S3-compatible bucket that media files are copied to (empty S3_BUCKET: DATA_DIR only).
    # S3_ENDPOINT e.g. https://s3.eu-west-3.amazonaws.com or http://minio:9000 (path-style).
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    # Seconds a starting process waits for PostgreSQL (restarting, in recovery) before giving up.
    database_start_wait: int = 60
    # Seconds without a heartbeat after which an online or busy agent is set offline.
    presence_grace: int = 120
    # Seconds between sweeps of the time-based jobs (presence expiry).
    sweep_interval: int = 5
    # Asterisk Manager Interface (AMI). Empty AMI_HOST: telephony live features are off.
    ami_host: str = ""
    ami_port: int = 5038
    ami_username: str = ""
    ami_secret: str = ""
    # Seconds to wait for the AMI login and for each action's answer.
    ami_timeout: int = 5
    # Longest pause, in seconds, between AMI reconnection attempts (backoff doubles up to it).
    ami_reconnect_max: int = 30
    # SIP stack whose Realtime tables we write: "pjsip" (ps_* tables) or "sip" (chan_sip sippeers, Asterisk <= 20).
    asterisk_sip_driver: str = "pjsip"
    # Folder of the pg_dump / pg_restore used by `switchboard backup` and `restore` (empty: those
    # bundled with the embedded PostgreSQL, version 16; a newer server needs its own).
    pg_bin_dir: str = ""
    # Dialplan context of a company's extensions, where its transfers and click-to-call are sent;
    # ``{company}`` is replaced by the company id, so each company dials only its own phones.
    asterisk_context: str = "sb{company}-internal"
    # Networks (CIDR, comma-separated; "*" for all) that provider servers, outbound webhooks and
    # S3 may live on besides the public internet, e.g. "10.0.0.0/8" for a WAHA on the LAN. Empty:
    # loopback, private, link-local and reserved addresses are refused (cloud metadata always is).
    private_networks: str = ""
    # Allow plain http:// for admin-set addresses (provider servers, outbound webhooks); https otherwise.
    allow_http: bool = False
    # Webhooks accepted per second per channel and process (bursts of twice that); 429 beyond.
    webhook_rate_limit: int = 500
    # Requests per minute per login session and process (pages, htmx, forms); 429 beyond.
    page_rate_limit: int = 600
    # Attempts at fetching one inbound media file through transient errors before it is marked failed.
    media_max_attempts: int = 8

    def context_for(self, company_id: int) -> str:
        """The dialplan context of ``company_id``'s extensions (``ASTERISK_CONTEXT``)."""
        return self.asterisk_context.replace("{company}", str(company_id))

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL", ""),
            "database_direct_url": env.get("DATABASE_DIRECT_URL", "").strip(),
            "database_read_url": env.get("DATABASE_READ_URL", "").strip(),
            "secret_key": env.get("SECRET_KEY", ""),
            "data_dir": Path(env.get("DATA_DIR") or ROOT / "data").resolve(),
            "base_url": env.get("BASE_URL", ""),
            "host": env.get("HOST", "127.0.0.1"),
            "port": _env_int("PORT", 8000),
            "workers": _env_int("WORKERS", 1),
            "log_level": env.get("LOG_LEVEL", "INFO").upper(),
            "log_json": env.get("LOG_JSON", "").lower() in {"1", "true", "yes"},
            "session_max_age": _env_int("SESSION_MAX_AGE", 8 * 3600),
            "session_absolute_max_age": _env_int("SESSION_ABSOLUTE_MAX_AGE", 12 * 3600),
            "login_max_failures": _env_int("LOGIN_MAX_FAILURES", 5),
            "login_throttle_window": _env_int("LOGIN_THROTTLE_WINDOW", 900),
            "max_body_bytes": _env_int("MAX_BODY_BYTES", 1_000_000),
            "sse_keepalive": _env_int("SSE_KEEPALIVE", 15),
            "webhook_max_bytes": _env_int("WEBHOOK_MAX_BYTES", 256_000),
            "sender_enabled": env.get("SENDER_ENABLED", "true").lower() not in {"0", "false", "no"},
            "sender_poll_ms": _env_int("SENDER_POLL_MS", 300),
            "sender_max_attempts": _env_int("SENDER_MAX_ATTEMPTS", 20),
            "media_max_bytes": _env_int("MEDIA_MAX_BYTES", 16_000_000),
            "api_rate_limit": _env_int("API_RATE_LIMIT", 120),
            "webhook_max_attempts": _env_int("WEBHOOK_MAX_ATTEMPTS", 12),
            "s3_endpoint": env.get("S3_ENDPOINT", "").strip(),
            "s3_bucket": env.get("S3_BUCKET", "").strip(),
            "s3_access_key": env.get("S3_ACCESS_KEY", "").strip(),
            "s3_secret_key": env.get("S3_SECRET_KEY", "").strip(),
            "s3_region": env.get("S3_REGION", "").strip() or "us-east-1",
            "database_start_wait": _env_int("DATABASE_START_WAIT", 60),
            "presence_grace": _env_int("PRESENCE_GRACE", 120),
            "sweep_interval": _env_int("SWEEP_INTERVAL", 5),
            "ami_host": env.get("AMI_HOST", "").strip(),
            "ami_port": _env_int("AMI_PORT", 5038),
            "ami_username": env.get("AMI_USERNAME", ""),
            "ami_secret": env.get("AMI_SECRET", ""),
            "ami_timeout": _env_int("AMI_TIMEOUT", 5),
            "ami_reconnect_max": _env_int("AMI_RECONNECT_MAX", 30),
            "asterisk_sip_driver": _choice("ASTERISK_SIP_DRIVER", ("pjsip", "sip")),
            "asterisk_context": env.get("ASTERISK_CONTEXT", "").strip() or "sb{company}-internal",
            "pg_bin_dir": env.get("PG_BIN_DIR", "").strip(),
            "private_networks": env.get("PRIVATE_NETWORKS", "").strip(),
            "allow_http": env.get("ALLOW_HTTP", "").lower() in {"1", "true", "yes"},
            "media_max_attempts": _env_int("MEDIA_MAX_ATTEMPTS", 8),
            "webhook_rate_limit": _env_int("WEBHOOK_RATE_LIMIT", 500),
            "page_rate_limit": _env_int("PAGE_RATE_LIMIT", 600),
        }
        values.update(overrides)
        if values["s3_bucket"] and not (values["s3_endpoint"] and values["s3_access_key"] and values["s3_secret_key"]):
            raise SystemExit("S3_BUCKET needs S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY too")
        if values["s3_endpoint"] and not str(values["s3_endpoint"]).startswith(("http://", "https://")):
            raise SystemExit(f"S3_ENDPOINT must start with http:// or https://, got {values['s3_endpoint']!r}")
        if str(values["s3_endpoint"]).startswith("http://") and not values["allow_http"]:
            raise SystemExit(
                "S3_ENDPOINT uses plain http://: set ALLOW_HTTP=1 to allow it (and PRIVATE_NETWORKS for a LAN)"
            )
        parse_networks(str(values["private_networks"]))  # a typo stops the start, with the reason
        return cls(**values)  # type: ignore[arg-type]

    @property
    def direct_url(self) -> str:
        """Where LISTEN, advisory-lock leadership and migrations connect (see database_direct_url)."""
        return self.database_direct_url or self.database_url

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.public_url).scheme == "https"

    def with_secret(self) -> Settings:
        """Return settings whose secret key is set, generating and keeping one if needed."""
        if self.secret_key:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return dataclasses.replace(self, secret_key=path.read_text().strip())


ENV_NAMES = [f.name.upper() for f in dataclasses.fields(Settings)]
