// Answers the differential permission tests from the published @mastra/core (auth/ee).
// stdin: {"pairs": [[granted, required], ...], "lists": [[[granted...], required], ...]}
// stdout: the reference vocabulary, matchesPermission per pair, hasPermission per list, and
// what each reference default role grants.
import {
  ACTIONS,
  DEFAULT_ROLES,
  PERMISSIONS,
  PERMISSION_PATTERNS,
  RESOURCES,
  hasPermission,
  isValidPermissionPattern,
  matchesPermission,
} from "@mastra/core/auth/ee";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { pairs, lists } = JSON.parse(input);

const started = performance.now();
const matches = pairs.map(([granted, required]) => matchesPermission(granted, required));
const listed = lists.map(([granted, required]) => hasPermission(granted, required));
const elapsedMs = performance.now() - started;
// What each reference role grants among the concrete (wildcard-free) patterns.
const concrete = Object.keys(PERMISSION_PATTERNS).filter((p) => !p.includes("*"));
const roleGrants = Object.fromEntries(
  DEFAULT_ROLES.map((role) => [role.id, concrete.filter((p) => hasPermission(role.permissions, p))]),
);

process.stdout.write(
  JSON.stringify({
    patterns: Object.keys(PERMISSION_PATTERNS),
    patternValues: Object.values(PERMISSION_PATTERNS),
    patternsValid: Object.keys(PERMISSION_PATTERNS).every((p) => isValidPermissionPattern(p)),
    resources: RESOURCES,
    actions: ACTIONS,
    permissions: PERMISSIONS,
    defaultRoles: DEFAULT_ROLES,
    roleGrants,
    matches,
    listed,
    elapsedMs,
  }),
);
