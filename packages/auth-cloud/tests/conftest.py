import sys
from pathlib import Path

# Test helpers (emulator, peer harness) live beside the tests; importlib mode needs the path.
sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["mastra.core.testing.fixtures"]
