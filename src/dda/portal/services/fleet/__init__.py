"""The fleet: enrollment, device identity and heartbeats, deployments with staged rollout."""
