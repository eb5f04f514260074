"""Tool adapters: the SDK (typed calls, safety metadata, registry, policy, ledger) and integrations.

A leaf package: it never imports `agents`, `knowledge` or `evals`.
"""
