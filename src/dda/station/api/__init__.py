"""HTTP layer: thin routers over the services, typed dependencies, one error mapping."""
