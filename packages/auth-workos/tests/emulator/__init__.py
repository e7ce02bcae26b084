"""WorkOS API emulator for the tests (see ``app``), directory-sync event builders and the
browser-style sign-in against the server app."""

from .app import API_KEY, CLIENT_ID, WorkOSEmulator
from .browser import browser_login
from .events import directory_group, directory_user, dsync_event

__all__ = [
    "API_KEY",
    "CLIENT_ID",
    "WorkOSEmulator",
    "browser_login",
    "directory_group",
    "directory_user",
    "dsync_event",
]
