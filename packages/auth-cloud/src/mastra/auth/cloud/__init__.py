"""mastra-auth-cloud (skeleton; see its issue)."""

__all__: list[str] = []
