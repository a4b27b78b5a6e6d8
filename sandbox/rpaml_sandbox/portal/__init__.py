"""The sandbox claims portal: a server-rendered insurer's back office the robots work on.

Build it with :func:`create_app` and a :class:`PortalSettings`; run it with
``python -m rpaml_sandbox.portal``. The seams other components rely on are fixed in
``docs/portal.md``.
"""

from rpaml_sandbox.portal.app import create_app
from rpaml_sandbox.portal.settings import PortalSettings

__all__ = ["PortalSettings", "create_app"]
