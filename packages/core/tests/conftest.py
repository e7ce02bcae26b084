pytest_plugins = ["mastra.core.testing.fixtures"]
