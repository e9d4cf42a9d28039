"""Shared core services: settings, logging, errors, object store, database, safe inputs, signing."""
