"""The GitHub integration (the adapter moved into a package; the split follows)."""

from tools.github.adapter import GitHubAdapter

__all__ = ["GitHubAdapter"]
