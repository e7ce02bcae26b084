"""mastra-auth-better: Better Auth ``remote`` and ``embedded`` modes (SPEC 10.2).

``EmbeddedBetterAuth`` owns Better-Auth-compatible tables in the project database;
``RemoteBetterAuth`` talks to a running Better Auth server. Both are selected with
provider name ``better`` (option ``mode``) through :mod:`mastra.auth.better.plugin`.
"""

from ._cookie import BetterCookie, sign_token, unsign_value
from ._options import BetterOptions
from ._passwords import PasswordHasher, better_scrypt
from .embedded import EmbeddedBetterAuth
from .remote import RemoteBetterAuth

__all__ = [
    "BetterCookie",
    "BetterOptions",
    "EmbeddedBetterAuth",
    "PasswordHasher",
    "RemoteBetterAuth",
    "better_scrypt",
    "sign_token",
    "unsign_value",
]
