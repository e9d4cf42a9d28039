#!/usr/bin/env bash
# Make sure the local servers the tests talk to are up (PostgreSQL, Redis, RabbitMQ, Mosquitto).
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
if ! port_open 5672 && command -v rabbitmq-server >/dev/null 2>&1; then
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
fi
for p in 5432 1883 6379 5672; do port_open $p || echo "services: nothing listens on 127.0.0.1:$p; tests needing it will skip"; done
exit 0
