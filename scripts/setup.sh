#!/usr/bin/env bash
# One-shot set-up used by `npm start`, `npm test` and `npm run bench`:
# dependencies, nats-server and PostgreSQL present and running, build. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }
SUDO=""; if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# 1. Node dependencies
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing node dependencies"
  npm ci --no-audit --no-fund >&2
fi

# 2. nats-server and PostgreSQL binaries
need=()
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  $SUDO apt-get update -y >&2 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${need[@]}" >&2
fi
NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)

port_open() { (echo > "/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

# 3. NATS with JetStream on 4222 (only when NATS_URL is the default)
if [ -z "${NATS_URL:-}" ] || [ "${NATS_URL}" = "nats://127.0.0.1:4222" ]; then
  if ! port_open 4222; then
    log "starting nats-server (JetStream) on 4222"
    mkdir -p /var/lib/nats-server 2>/dev/null || true
    SD=/var/lib/nats-server; [ -w "$SD" ] || SD="$PWD/.jetflow/nats"; mkdir -p "$SD"
    nohup "$NATS_BIN" -a 127.0.0.1 -p 4222 -js -sd "$SD" >"$SD/../nats-server.log" 2>&1 &
    for _ in $(seq 1 50); do port_open 4222 && break; sleep 0.1; done
  fi
fi

# 4. PostgreSQL on 5432
if ! port_open 5432; then
  log "starting PostgreSQL"
  if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    $SUDO pg_createcluster 15 main >&2 || $SUDO pg_createcluster "$(ls /usr/lib/postgresql | sort -n | tail -1)" main >&2
  fi
  v=$(ls /etc/postgresql | sort -n | tail -1)
  # trust auth on loopback, as on the dev machines
  hba=/etc/postgresql/$v/main/pg_hba.conf
  if ! grep -q "jetflow" "$hba" 2>/dev/null; then
    { echo "# jetflow dev: trust on loopback"; echo "host all all 127.0.0.1/32 trust"; echo "host all all ::1/128 trust"; echo "local all all trust"; cat "$hba"; } > /tmp/jf_hba && $SUDO cp /tmp/jf_hba "$hba"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
  for _ in $(seq 1 100); do port_open 5432 && break; sleep 0.1; done
fi

# 5. Build
if [ "${SKIP_BUILD:-}" != "1" ]; then
  log "building"
  npx tsc -p tsconfig.build.json >&2
fi
log "ready"
