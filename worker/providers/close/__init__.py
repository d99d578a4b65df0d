"""Close: its API client."""
