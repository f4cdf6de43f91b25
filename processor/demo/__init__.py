"""The demo: a synthetic contact center, a live terminal summary, and the orchestration."""
