"""mastra-auth-workos (skeleton; see its issue)."""

__all__: list[str] = []
