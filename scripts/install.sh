#!/usr/bin/env bash
# Installs what berth needs on Debian 12 (as root), builds it, starts berthd on its
# embedded store, and imports a busybox image so a first container can run at once.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "install.sh: run as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends runc busybox-static iproute2 libsqlite3-dev libnftables-dev curl util-linux tini >/dev/null

swift build -c release --product berthd
swift build -c release --product berth
bin=$(swift build -c release --show-bin-path)
install -m 0755 "$bin/berthd" "$bin/berth" /usr/local/bin/

if ! curl -sf --unix-socket /run/berth.sock http://localhost/_ping >/dev/null 2>&1; then
  setsid /usr/local/bin/berthd >>/var/log/berthd.log 2>&1 < /dev/null &
  for _ in $(seq 100); do
    curl -sf --unix-socket /run/berth.sock http://localhost/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
curl -sf --unix-socket /run/berth.sock http://localhost/_ping >/dev/null || { echo "berthd did not start; see /var/log/berthd.log" >&2; exit 1; }

if ! berth image ls | grep -q '^busybox '; then
  tarball=$(mktemp --suffix=.tar)
  bash scripts/make-busybox-image.sh "$tarball"
  berth image import "$tarball" busybox >/dev/null
  rm -f "$tarball"
fi

cat <<'MSG'
berthd is running (socket /run/berth.sock, state /var/lib/berth, log /var/log/berthd.log).
Run a first container:
  berth run -d --name web busybox sh -c 'echo hello from berth > /tmp/index.html && httpd -f -p 80 -h /tmp'
  berth run --rm busybox wget -qO- http://$(berth inspect -f '{{.NetworkSettings.IPAddress}}' web)/
The docker CLI works too:  docker -H unix:///run/berth.sock ps
MSG
