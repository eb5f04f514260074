"""Approvals where engineers are: identity, who may approve what, the console, Slack, deadlines, audit."""
