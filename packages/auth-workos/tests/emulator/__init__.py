"""WorkOS API emulator for the tests (see ``app``), plus directory-sync event builders."""

from .app import API_KEY, CLIENT_ID, WorkOSEmulator
from .events import directory_group, directory_user, dsync_event

__all__ = ["API_KEY", "CLIENT_ID", "WorkOSEmulator", "directory_group", "directory_user", "dsync_event"]
