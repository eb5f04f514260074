"""The adapter SDK, in one import for adapter authors (a plugin imports from here): typed tool calls with safety metadata and uniform results.

An *adapter* speaks one integration's wire format (Prometheus, Loki, Kubernetes...). It is configured
as one or more named *instances* and exposes *calls*: async methods decorated with `tool_call`, each
taking one pydantic input model and returning a `ToolResult`.

Errors, by intent (the caller decides what to do from the type, never from the message)::

    ToolError
     ├── ToolInputError        the arguments are wrong: fix them and call again (a model can retry)
     ├── UpstreamError         the backend failed or answered nonsense; visible on the result
     │    └── UpstreamTimeout  no answer within the per-call timeout
     ├── ApprovalRequired      a mutating call without a valid execution grant; needs a human
     ├── AdapterDefinitionError  a developer mistake found at registration (bad safety metadata...)
     └── ResultShapeError      a result's data is not the payload model declared or asked for (a bug)

`CheckSkipped` is not an error: an adapter's `Adapter.check` raises it when the integration has no
read that could prove connectivity without side effects (a webhook that only posts).

`ToolResult.status` is ``ok``, ``no_data`` (the query worked and found nothing: not an error),
``error`` or ``approval_required``. Every result echoes the exact query, parameters and time window so
that evidence built on it can be cited and re-run.
"""

from tools.adapter import Adapter, CallFn, CallSpec, InputT, tool_call
from tools.values import (
    READ_ONLY,
    AdapterDefinitionError,
    AdapterSettings,
    ApprovalRequired,
    ApprovalTier,
    BlastRadius,
    CheckSkipped,
    ExecutionGrant,
    MissingSecret,
    PayloadT,
    ResultShapeError,
    SafetyMetadata,
    TimeWindow,
    ToolError,
    ToolErrorInfo,
    ToolInputError,
    ToolResult,
    ToolStatus,
    UpstreamError,
    UpstreamTimeout,
    hash_args,
)

__all__ = [
    "READ_ONLY",
    "Adapter",
    "AdapterDefinitionError",
    "AdapterSettings",
    "ApprovalRequired",
    "ApprovalTier",
    "BlastRadius",
    "CallFn",
    "CallSpec",
    "CheckSkipped",
    "ExecutionGrant",
    "InputT",
    "MissingSecret",
    "PayloadT",
    "ResultShapeError",
    "SafetyMetadata",
    "TimeWindow",
    "ToolError",
    "ToolErrorInfo",
    "ToolInputError",
    "ToolResult",
    "ToolStatus",
    "UpstreamError",
    "UpstreamTimeout",
    "hash_args",
    "tool_call",
]
