"""Investigation analytics both reasoners use: metric anomaly ranking, change correlation, log patterns."""
