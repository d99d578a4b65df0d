"""Development tools: `make run`'s launcher."""
