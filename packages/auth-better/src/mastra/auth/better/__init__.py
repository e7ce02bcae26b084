"""mastra-auth-better (skeleton; see its issue)."""

__all__: list[str] = []
