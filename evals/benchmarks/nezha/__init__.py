"""The Nezha benchmark (Online Boutique): SLI alerts, the replay, the adapters, the agents' ranker."""

from evals.benchmarks.nezha.dataset import DatasetError
from evals.benchmarks.nezha.run import run_benchmark

__all__ = ["DatasetError", "run_benchmark"]
