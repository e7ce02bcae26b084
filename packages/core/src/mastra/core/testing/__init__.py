"""Test support shared by every package's tests.

* :mod:`.postgres` — a real PostgreSQL server started on loopback for the session.
* :mod:`.node` — installs npm test peers (Better Auth, oidc-provider) into a cache.
* :mod:`.servers` — free ports and background uvicorn servers for emulators.
* conformance suites, one per capability (``users``, ``sessions``, ``sso``,
  ``credentials``, ``rbac``, ``audit``): base classes a provider's tests subclass,
  supplying a ``provider`` fixture and, where only the provider knows how, a hook or
  two (sign a user in, disable one). They check the required protocol of
  :mod:`mastra.core.ee.interfaces` and each optional ``Supports*`` protocol the
  provider has, with ``isinstance`` as the host does.

Load the fixtures with ``pytest_plugins = ["mastra.core.testing.fixtures"]``.
"""
