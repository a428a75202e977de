"""Words that reach the screen from data, listed so that extraction puts them in the catalogues.

Templates translate some column values directly (``_(user.role)``, ``_(conversation.status)``,
Asterisk's device states): those values are English words fixed by the schema or by Asterisk,
and this module is the only place that names them for ``pybabel extract``. Nothing imports it.
"""

from app.i18n import N_

ROLES = (N_("admin"), N_("supervisor"), N_("agent"))
PRESENCE = (N_("online"), N_("busy"), N_("offline"))
CONVERSATION_STATUS = (N_("bot"), N_("queued"), N_("assigned"), N_("resolved"))
MESSAGE_STATUS = (N_("received"), N_("pending"), N_("sent"), N_("delivered"), N_("read"), N_("failed"))
MESSAGE_TYPES = (
    N_("text"),
    N_("image"),
    N_("document"),
    N_("audio"),
    N_("voice"),
    N_("video"),
    N_("location"),
    N_("reaction"),
    N_("template"),
    N_("unsupported"),
)
LANGUAGE_LABELS = (N_("Company default"),)
# Asterisk channel and device states (app/telephony/state.py) and CDR dispositions.
CALL_STATES = (
    N_("Down"),
    N_("Rsrvd"),
    N_("OffHook"),
    N_("Dialing"),
    N_("Ring"),
    N_("Ringing"),
    N_("Up"),
    N_("Busy"),
    N_("Dialing Offhook"),
    N_("Pre-ring"),
    N_("Mute"),
)
DEVICE_STATES = (
    N_("Unknown"),
    N_("Not in use"),
    N_("In use"),
    N_("Invalid"),
    N_("Unavailable"),
    N_("Ring in use"),
    N_("On hold"),
)
DISPOSITIONS = (N_("ANSWERED"), N_("NO ANSWER"), N_("BUSY"), N_("FAILED"), N_("CONGESTION"))
