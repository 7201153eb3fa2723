#!/usr/bin/env bash
# The whole test suite: unit tests, live netlink tests inside a throwaway network
# namespace, and the integration tests (each test makes its own host namespaces and
# removes them). Needs root. The real host's network is never changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "test.sh: run as root" >&2; exit 1; fi

swift build --build-tests
swift test --skip-build
# The live netlink tests only run in a namespace of their own (unshare gives an empty one).
BERTH_LIVE_NETNS=1 unshare --net swift test --skip-build --filter LiveNetlinkTests
# The live etcd tests start their own etcd members on loopback ports: in a namespace of
# their own (lo up) they can't collide with, or be reached from, anything on the host.
BERTH_LIVE_ETCD=1 unshare --net sh -c 'ip link set lo up && exec swift test --skip-build --filter EtcdLiveTests'
# The live runc test shares the namespace it runs in: give it a throwaway one (lo up).
probe="berth-runc-$$"
ip netns add "$probe"
trap 'ip netns del "$probe" 2>/dev/null || true' EXIT
ip netns exec "$probe" ip link set lo up
BERTH_LIVE_RUNC=1 nsenter --net="/run/netns/$probe" swift test --skip-build --filter RuncLiveTests
ip netns del "$probe"
python3 -m pytest -q -p no:cacheprovider integration
