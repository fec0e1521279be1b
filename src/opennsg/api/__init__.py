"""``opennsg serve``: an Azure Resource Manager-compatible HTTP service for NSGs and Network Watcher."""

from opennsg.api.app import ServiceConfig, create_app

__all__ = ["ServiceConfig", "create_app"]
