#!/usr/bin/env python3
"""Mint an HS256 JWT for local use (cargo lambda watch with JOBS_JWT_ALGORITHM=HS256).

Standard library only. Prints only the token, so it can be captured:

    TOKEN=$(python3 scripts/dev_token.py --secret "$(cat .local/dev-jwt-secret)" --org org-dev)
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(secret: str, claims: dict) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--secret", default=os.environ.get("JOBS_JWT_SECRET"),
                   help="HMAC secret (default: $JOBS_JWT_SECRET)")
    p.add_argument("--sub", default="dev-user", help="user id claim (default: dev-user)")
    p.add_argument("--org", action="append", default=[],
                   help="an organization the caller belongs to (repeatable): claim 'organizations'")
    p.add_argument("--permissions", help="comma-separated, e.g. job:read,job:create: claim 'permissions'")
    p.add_argument("--ttl", type=int, default=3600, help="seconds until exp (default: 3600)")
    p.add_argument("--issuer", help="iss claim")
    p.add_argument("--audience", help="aud claim")
    a = p.parse_args()
    if not a.secret:
        p.error("no secret: pass --secret or set JOBS_JWT_SECRET")

    now = int(time.time())
    claims = {"sub": a.sub, "iat": now, "exp": now + a.ttl}
    if a.org:
        claims["organizations"] = a.org
    if a.permissions is not None:
        claims["permissions"] = [x.strip() for x in a.permissions.split(",") if x.strip()]
    if a.issuer:
        claims["iss"] = a.issuer
    if a.audience:
        claims["aud"] = a.audience
    sys.stdout.write(mint(a.secret, claims) + "\n")


if __name__ == "__main__":
    main()
