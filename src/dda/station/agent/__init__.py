"""The fleet agent inside the station (the seed's Greengrass nucleus, without AWS): enroll once,
then always call the portal — heartbeat, desired state, package download, atomic install with a
golden-image health check and automatic rollback, status reports. No inbound port is needed."""
