"""The Kubernetes integration (the adapter moved into a package; the split follows)."""

from tools.kubernetes.adapter import KubernetesAdapter, KubernetesSettings, merge_patch_replacing

__all__ = ["KubernetesAdapter", "KubernetesSettings", "merge_patch_replacing"]
