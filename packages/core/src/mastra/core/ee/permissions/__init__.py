"""Permission strings, matching, route derivation and role resolution (SPEC 4).

The hot path is :class:`PermissionSet`: compile a grant list once
(:func:`compile_permissions`, cached per list) and ask ``allows(required)``.
"""

from ..errors import InvalidPermission
from ._derive import EXECUTE_MARKERS, derive_permission, effective_permission
from ._grammar import (
    ACTIONS,
    OWN_RESOURCES,
    RESOURCES,
    is_own_permission,
    permission_patterns,
    split_permission,
    validate_permission,
)
from ._matcher import PermissionSet, compile_permissions, has_permission, intersect_permissions, matches
from ._roles import (
    DEFAULT_ROLES,
    check_role_permissions,
    default_role_mapping,
    default_roles,
    resolve_permissions,
    resolve_permissions_from_mapping,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_ROLES",
    "EXECUTE_MARKERS",
    "OWN_RESOURCES",
    "RESOURCES",
    "InvalidPermission",
    "PermissionSet",
    "check_role_permissions",
    "compile_permissions",
    "default_role_mapping",
    "default_roles",
    "derive_permission",
    "effective_permission",
    "has_permission",
    "intersect_permissions",
    "is_own_permission",
    "matches",
    "permission_patterns",
    "resolve_permissions",
    "resolve_permissions_from_mapping",
    "split_permission",
    "validate_permission",
]
