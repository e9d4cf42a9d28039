"""The edge station (LocalServer): sources, triggers, inference, results, outputs and web UI."""
