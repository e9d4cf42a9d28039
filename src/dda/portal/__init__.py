"""The portal: tenants, RBAC, audit, data, labeling, jobs, registry, devices and deployments."""
