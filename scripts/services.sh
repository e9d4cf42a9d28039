#!/usr/bin/env bash
# Make sure the local servers the tests talk to are up (PostgreSQL, Redis, Mosquitto).
# On machines where they were started before the session this does nothing.
set -uo pipefail
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! port_open 1883 && command -v mosquitto >/dev/null 2>&1; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
if ! port_open 6379 && command -v redis-server >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
for p in 5432 1883; do port_open $p || echo "services: nothing listens on 127.0.0.1:$p; tests needing it will skip"; done
exit 0
