#!/usr/bin/env bash
# Installs the Debian packages Vigil's tests need besides Go: rsyslog (and
# its TLS driver, rsyslog-gnutls) for the syslog output's test against a
# real receiver, nats-server for the NATS output's test, PostgreSQL for
# the store's (its tests start their own server when none runs) and
# chromium, the headless browser (/usr/bin/chromium) that drives the web
# UI's end-to-end test in internal/ui; then starts
# nats-server with JetStream on 127.0.0.1:4222 unless something already
# listens there. Idempotent: it does nothing, quickly, when everything is
# already in place. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(rsyslog rsyslog-gnutls nats-server postgresql chromium)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
start_nats() {
	if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
		return 0
	fi
	local dir="${TMPDIR:-/tmp}/vigil-nats"
	mkdir -p "$dir"
	echo "install-deps: starting nats-server with JetStream on 127.0.0.1:4222 (data in $dir)" >&2
	setsid nohup /usr/sbin/nats-server -a 127.0.0.1 -p 4222 -js -sd "$dir" >"$dir/nats.log" 2>&1 </dev/null &
	for _ in $(seq 50); do
		if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "install-deps: nats-server did not start; see $dir/nats.log" >&2
	return 1
}

if [ ${#missing[@]} -eq 0 ]; then
	start_nats
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: apt-get not found; install ${missing[*]} with your package manager" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: need root (or sudo) to install ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
start_nats
