"""Piccolo's configuration module (``PICCOLO_CONF=app.piccolo_conf``): the engine and the app."""

from piccolo.conf.apps import AppRegistry

from app.engine import DB

__all__ = ["DB", "APP_REGISTRY"]

APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
