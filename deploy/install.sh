#!/usr/bin/env bash
# Install or upgrade edge-agent on Raspberry Pi OS / Debian (idempotent; keeps data and config).
#   sudo deploy/install.sh [--store-id store-0042]
set -euo pipefail

STORE_ID="store-0001"
if [[ "${1:-}" == "--store-id" && -n "${2:-}" ]]; then STORE_ID="$2"; fi
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/edge-agent
CONF=/etc/edge-agent/agent.yaml

if [[ $EUID -ne 0 ]]; then echo "run as root (sudo $0)" >&2; exit 1; fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv mosquitto bluez

id edge-agent >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edge-agent --shell /usr/sbin/nologin \
  --groups dialout,bluetooth edge-agent
install -d -o edge-agent -g edge-agent -m 0750 /var/lib/edge-agent /etc/edge-agent

python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q --upgrade "$SRC"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"

if [[ ! -f "$CONF" ]]; then
  # Also creates the agent's own broker user in /var/lib/edge-agent/mosquitto.{passwd,acl}.
  "$PREFIX/venv/bin/edge-agent" init --config "$CONF" --store-id "$STORE_ID" --data-dir /var/lib/edge-agent \
    --broker-credentials
  chown edge-agent:edge-agent "$CONF"
fi
chown edge-agent:edge-agent /var/lib/edge-agent/mosquitto.passwd /var/lib/edge-agent/mosquitto.acl
usermod -a -G edge-agent mosquitto  # the broker reads the password file and ACL the CLI writes
install -m 0644 "$SRC/deploy/mosquitto/edge-agent.conf" /etc/mosquitto/conf.d/edge-agent.conf
install -m 0644 "$SRC/deploy/systemd/edge-agent.service" /etc/systemd/system/edge-agent.service

systemctl daemon-reload
systemctl enable --now mosquitto
systemctl enable edge-agent
systemctl restart edge-agent
echo "edge-agent installed; next: edge-agent doctor --config $CONF"
