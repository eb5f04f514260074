"""The GitHub integration: `GitHubAdapter` and its typed inputs and results.

Layout: ``models`` (call inputs, result models), ``wire`` (GitHub's REST JSON read into those models,
error texts), ``adapter`` (the calls). Import from here; the modules are an implementation detail.
"""

from tools.github.adapter import API_HEADERS, API_VERSION, GitHubAdapter
from tools.github.models import (
    ChangedFile,
    Commit,
    CommitList,
    CompareInput,
    Comparison,
    DeploymentList,
    DeploymentRecord,
    GetWorkflowInput,
    ListCommitsInput,
    ListDeploymentsInput,
    ListReposInput,
    ListWorkflowRunsInput,
    ListWorkflowsInput,
    Repository,
    RepositoryList,
    Workflow,
    WorkflowDefinition,
    WorkflowDispatchInput,
    WorkflowInputSpec,
    WorkflowList,
    WorkflowRun,
    WorkflowRunList,
)
from tools.github.wire import describe_github_error

__all__ = [
    "API_HEADERS",
    "API_VERSION",
    "ChangedFile",
    "Commit",
    "CommitList",
    "CompareInput",
    "Comparison",
    "DeploymentList",
    "DeploymentRecord",
    "GitHubAdapter",
    "ListCommitsInput",
    "ListDeploymentsInput",
    "ListReposInput",
    "GetWorkflowInput",
    "ListWorkflowRunsInput",
    "ListWorkflowsInput",
    "Repository",
    "RepositoryList",
    "Workflow",
    "WorkflowDefinition",
    "WorkflowDispatchInput",
    "WorkflowInputSpec",
    "WorkflowList",
    "WorkflowRun",
    "WorkflowRunList",
    "describe_github_error",
]
