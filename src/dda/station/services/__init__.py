"""Station services: the rules. Routers call these; these call repositories and plugins."""
