"""SavvyCal: its API client."""
