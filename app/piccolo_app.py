"""The one Piccolo app: every table of Switchboard and the top-level migrations folder."""

from piccolo.conf.apps import AppConfig

from app.domain.admin_tables import ADMIN_TABLES
from app.domain.audit import AuditEvent
from app.domain.channel_tables import CHANNEL_TABLES
from app.domain.labels import LABEL_TABLES
from app.domain.mentions import Mention
from app.domain.presence import PresenceChange
from app.domain.tables import TABLES
from app.domain.viewers import ConversationViewer
from app.domain.work_tables import WORK_TABLES
from app.settings import ROOT
from app.telephony.tables import TELEPHONY_TABLES

APP_CONFIG = AppConfig(
    app_name="switchboard",
    migrations_folder_path=str(ROOT / "piccolo_migrations"),
    # Every table of ours (tests/test_schema.py checks them against the migrated database);
    # Asterisk's tables are described by Asterisk's own DDL in app/telephony/sql/.
    table_classes=[
        *TABLES,
        PresenceChange,
        AuditEvent,
        *CHANNEL_TABLES,
        *ADMIN_TABLES,
        *WORK_TABLES,
        *TELEPHONY_TABLES,
        *LABEL_TABLES,
        Mention,
        ConversationViewer,
    ],
    migration_dependencies=[],
    commands=[],
)
