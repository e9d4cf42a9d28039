"""Model runtime: loads a model package and runs pre-process, forward, post-process without torch."""
