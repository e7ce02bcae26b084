"""``mastra-ee license check``: valid or not, tier, features, dev exemption (SPEC 5)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._command import add_config_option, add_json_option, load


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("license", help="EE license status")
    license_sub = parser.add_subparsers(dest="license_command", metavar="ACTION")
    license_sub.required = True
    check = license_sub.add_parser("check", help="exit 0 when a valid license is configured, 1 otherwise")
    add_config_option(check)
    add_json_option(check)
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    from ..ee.license import is_dev_environment, license_key, validate_license

    settings, _, _ = load(args, with_auth=False)
    info = validate_license(license_key(settings))
    dev = is_dev_environment(settings)
    if args.json:
        report = {
            "valid": info.valid,
            "tier": info.tier,
            "features": list(info.features or []),
            "dev_exemption": dev,
        }
        print(json.dumps(report))
        return 0 if info.valid else 1
    print("valid" if info.valid else "invalid")
    print(f"tier: {info.tier or '-'}")
    print(f"features: {', '.join(info.features) if info.features else '-'}")
    if dev:
        print("dev exemption: yes (EE features run without a license outside production)")
    else:
        print("dev exemption: no (production)")
    return 0 if info.valid else 1
