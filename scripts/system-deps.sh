#!/usr/bin/env bash
# System packages the tests use: Chromium (browser tests) and aravis-tools (GigE Vision emulator).
# Installed with apt when missing and running as root; otherwise the commands to run are printed
# and the tests that need them skip with that reason.
set -uo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v arv-fake-gv-camera-0.8 >/dev/null 2>&1 || missing+=(aravis-tools)
[ -e /usr/lib/x86_64-linux-gnu/girepository-1.0/Aravis-0.8.typelib ] || \
  [ -e /usr/lib/aarch64-linux-gnu/girepository-1.0/Aravis-0.8.typelib ] || missing+=(gir1.2-aravis-0.8)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
# PyGObject (GigE Vision through Aravis) builds from source against these.
[ -e /usr/include/gobject-introspection-1.0/girepository.h ] || missing+=(libgirepository1.0-dev)
[ -e /usr/include/cairo/cairo.h ] || missing+=(libcairo2-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${DDA_SKIP_SYSTEM_DEPS:-}" ]; then
  echo "system-deps: installing ${missing[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || echo "system-deps: apt-get install failed; tests needing ${missing[*]} will skip"
else
  echo "system-deps: missing ${missing[*]}; install with: sudo apt-get install ${missing[*]}"
fi
exit 0
