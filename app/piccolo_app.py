"""The one Piccolo app: every table of Switchboard and the top-level migrations folder."""

from piccolo.conf.apps import AppConfig

from app.domain.audit import AuditEvent
from app.domain.presence import PresenceChange
from app.domain.labels import LABEL_TABLES
from app.domain.mentions import Mention
from app.domain.viewers import ConversationViewer
from app.domain.channel_tables import CHANNEL_TABLES
from app.domain.tables import TABLES
from app.settings import ROOT
from app.telephony.tables import TELEPHONY_TABLES

APP_CONFIG = AppConfig(
    app_name="switchboard",
    migrations_folder_path=str(ROOT / "piccolo_migrations"),
    table_classes=[*TABLES, PresenceChange, AuditEvent, *CHANNEL_TABLES, *TELEPHONY_TABLES, *LABEL_TABLES, Mention,
                   ConversationViewer],
    migration_dependencies=[],
    commands=[],
)
