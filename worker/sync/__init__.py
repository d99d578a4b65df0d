"""The sync: how provider items become Close links, the pure reconcile, one account's runs and
their triggers."""
