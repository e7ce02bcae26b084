// Permission matching of SPEC 4.2, identical to mastra.core.ee.permissions.matches.
// A "*" inside a *required* permission is literal; only grants carry wildcards.

function split(permission) {
  // Split on the first two colons only: an id may itself contain colons.
  const first = permission.indexOf(":");
  if (first < 0) return [permission];
  const second = permission.indexOf(":", first + 1);
  if (second < 0) return [permission.slice(0, first), permission.slice(first + 1)];
  return [permission.slice(0, first), permission.slice(first + 1, second), permission.slice(second + 1)];
}

export function matches(granted, required) {
  if (granted === "*") return true;
  const g = split(granted);
  const r = split(required);
  if (g.length < 2 || r.length < 2) return granted === required;
  if (g[0] !== "*" && g[0] !== r[0]) return false;
  if (g[1] !== "*" && g[1] !== r[1]) return false;
  if (g.length < 3) return true;
  return r.length === 3 && r[2] === g[2];
}

export function hasPermission(permissions, required) {
  return (permissions || []).some((granted) => matches(granted, required));
}

export function isAdmin(permissions) {
  return (permissions || []).some((p) => p === "*" || p === "*:*");
}

// Checks against a capabilities response: with RBAC off (or auth off) every check
// passes, so a single-user local studio is never locked out (SPEC 11.1).
export function permissionChecker(capabilities) {
  const rbacOn = Boolean(capabilities && capabilities.enabled && capabilities.capabilities && capabilities.capabilities.rbac);
  const granted = rbacOn && capabilities.access ? capabilities.access.permissions || [] : [];
  const has = (p) => !rbacOn || hasPermission(granted, p);
  return {
    rbac: rbacOn,
    hasPermission: has,
    hasAnyPermission: (list) => !rbacOn || list.some(has),
    hasAllPermissions: (list) => !rbacOn || list.every(has),
  };
}
