"""The Calendly webhook lifecycle: subscriptions made and kept healthy, and the signature every
delivery is checked against."""
