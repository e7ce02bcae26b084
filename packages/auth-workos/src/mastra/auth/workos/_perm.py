"""The project's one permission matcher (SPEC 4.2), re-exported for this package."""

from mastra.core.ee.permissions import has_permission

__all__ = ["has_permission"]
