"""Switchboard: one contact centre for WhatsApp conversations and telephone calls."""

import os

__version__ = "0.1.0"

# Piccolo finds its engine and tables through this module path.
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")
