"""Role-based access control providers shipped with the core (SPEC 8.4)."""

from ._static import StaticRBACProvider

__all__ = ["StaticRBACProvider"]
