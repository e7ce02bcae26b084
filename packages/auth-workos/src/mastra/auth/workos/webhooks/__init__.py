"""Directory-sync webhook: signature verification (``signature``), the route (``route``)
and event processing (``processing``)."""

from .processing import HANDLED_EVENTS, camelize, process_event
from .route import PATH, webhook_endpoint
from .signature import TOLERANCE_MS, SignatureCheck, sign, verify_signature

__all__ = [
    "HANDLED_EVENTS",
    "PATH",
    "TOLERANCE_MS",
    "SignatureCheck",
    "camelize",
    "process_event",
    "sign",
    "verify_signature",
    "webhook_endpoint",
]
