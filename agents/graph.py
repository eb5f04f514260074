"""Wiring only: the nodes and where they may go. Every route is in the nodes' `Command[...]` types.

START -> supervisor -> triage | investigate | remediate | approval_gate | execute | verify
                       | communicate -> supervisor ... -> END
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import START, StateGraph

from agents.approval import approval_gate
from agents.communication import communicate
from agents.context import AgentContext
from agents.execution import execute, verify
from agents.investigation import investigate
from agents.remediation import remediate
from agents.state import IncidentState
from agents.supervisor import supervisor
from agents.triage import triage

# Node names are part of the durable checkpoint format: an incident waiting at "approval_gate"
# resumes only if a node of that name still exists. Do not rename them.
NODE_NAMES = ("supervisor", "triage", "investigate", "remediate", "approval_gate", "execute", "verify", "communicate")


def build_graph() -> StateGraph[IncidentState, AgentContext, Any, Any]:
    """The uncompiled incident workflow; compile it with a checkpointer to run it."""
    graph: StateGraph[IncidentState, AgentContext, Any, Any] = StateGraph(IncidentState, context_schema=AgentContext)
    graph.add_node("supervisor", supervisor)
    graph.add_node("triage", triage)
    graph.add_node("investigate", investigate)
    graph.add_node("remediate", remediate)
    graph.add_node("approval_gate", approval_gate)
    graph.add_node("execute", execute)
    graph.add_node("verify", verify)
    graph.add_node("communicate", communicate)
    graph.add_edge(START, "supervisor")
    return graph
