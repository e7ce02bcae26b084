pytest_plugins = ["mastra.core.ee.testing.fixtures"]
