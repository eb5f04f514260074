"""Execution grants: the only way a mutating call gets to run.

`mint_grant` is called by the action ledger after it has found a recorded approval (or a policy rule
that allows the action) and has claimed the action's single execution. The seal is an HMAC under a
key that lives only in this process's memory, so a grant cannot be forged from outside, copied from
another process, or edited after minting (the arguments' hash is sealed too).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from tools.values import ExecutionGrant


@lru_cache(maxsize=1)
def _process_key() -> bytes:
    return secrets.token_bytes(32)


def _seal(incident_id: str, action_id: str, tool: str, args_hash: str, approved_by: str) -> str:
    message = "\x1f".join([incident_id, action_id, tool, args_hash, approved_by]).encode()
    return hmac.new(_process_key(), message, hashlib.sha256).hexdigest()


def mint_grant(*, incident_id: str, action_id: str, tool: str, args_hash: str, approved_by: str) -> ExecutionGrant:
    """Create a sealed grant. Only the action ledger should call this."""
    return ExecutionGrant(
        incident_id=incident_id,
        action_id=action_id,
        tool=tool,
        args_hash=args_hash,
        approved_by=approved_by,
        _seal=_seal(incident_id, action_id, tool, args_hash, approved_by),
    )


def verify_grant(grant: ExecutionGrant) -> bool:
    """True when the grant was minted by this process and not altered since."""
    expected = _seal(grant.incident_id, grant.action_id, grant.tool, grant.args_hash, grant.approved_by)
    return hmac.compare_digest(expected, grant._seal)
