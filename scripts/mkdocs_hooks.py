"""MkDocs hooks (``hooks:`` in mkdocs.yml): add the generated reference pages.

The configuration and CLI references are rendered from the code on every build
(:mod:`docgen`), so they cannot drift from the settings models or the parser.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docgen

GENERATED = {
    "reference/configuration.md": docgen.configuration_reference,
    "reference/cli.md": docgen.cli_reference,
}


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, render in GENERATED.items():
        files.append(File.generated(config, path, content=render()))
    return files
