"""The eval harness: run scenarios through the workflow, score each stage, report."""
