"""``mastra-ee plugins [--json]``: what loaded, what failed and what was blocked, and the
provider names each plugin offers (the names ``MASTRA_AUTH__<CAPABILITY>`` accepts)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._command import add_config_option, add_json_option, load


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("plugins", help="list EE plugins and their status")
    add_json_option(parser)
    add_config_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _, registry, _ = load(args, with_auth=False)
    offered = registry.provider_names_by_plugin()
    rows = [
        {**info.to_json(), "providers": _names(offered.get(info.name, {}))}
        for info in registry.plugins.values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for row in rows:
        line = f"{row['name']:<{width}}  {row['status']:<7}  {row['distribution']} {row['version']}"
        if row["providers"]:
            line += "  providers: " + ", ".join(row["providers"])
        if row["hooks"]:
            line += "  hooks: " + ", ".join(h.removeprefix("mastra_ee_") for h in row["hooks"])
        if row.get("error"):
            line += f"  error: {row['error']}"
        print(line)
    return 0


def _names(by_capability: dict[str, list[str]]) -> list[str]:
    return sorted({name for names in by_capability.values() for name in names})
