"""Connections and their grants: what a rep connects, tokens refreshed without ever being
spent twice, the disconnect clean-up, and secrets at rest."""
