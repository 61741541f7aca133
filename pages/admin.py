"""Admin screens that combine several apps (they use privacy services, which span all of them).
Django's autodiscovery imports this module; each screen lives in its own module."""

from pages import admin_events, admin_holders  # noqa: F401
