"""Test support shared by every package's tests.

* :mod:`.postgres` — a real PostgreSQL server started on loopback for the session.
* :mod:`.node` — installs npm test peers (Better Auth, oidc-provider) into a cache.
* :mod:`.servers` — free ports and background uvicorn servers for emulators.
* conformance suites (``sessions``, ``rbac``, ``audit``, ``credentials``): base
  classes a provider's tests subclass, supplying a ``provider`` fixture.

Load the fixtures with ``pytest_plugins = ["mastra.core.ee.testing.fixtures"]``.
"""
