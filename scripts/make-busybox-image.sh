#!/bin/sh
# Builds a small root filesystem tarball from Debian's busybox-static, for
# `berth import` (or `docker import`). The output is byte-for-byte reproducible
# on one machine (fixed mtimes, sorted entries, numeric owner 0), so the image
# ID (SHA-256 of the tarball) is stable across runs.
#
# usage: make-busybox-image.sh OUT.tar [BUSYBOX]
set -eu

out=${1:?usage: make-busybox-image.sh OUT.tar [path-to-static-busybox]}
busybox=${2:-/bin/busybox}

[ -x "$busybox" ] || { echo "make-busybox-image: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would need its libraries inside the image.
if command -v file >/dev/null 2>&1 && file -L "$busybox" | grep -q 'dynamically linked'; then
    echo "make-busybox-image: $busybox is dynamically linked; need busybox-static" >&2
    exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-busybox.XXXXXX")
tmp_out="$out.partial.$$"
trap 'rm -rf "$stage" "$tmp_out"' EXIT
trap 'exit 130' INT TERM

umask 022
chmod 0755 "$stage"   # mktemp made it 0700; this becomes the image's /
mkdir -p "$stage/bin" "$stage/etc" "$stage/tmp" "$stage/proc" "$stage/sys" \
         "$stage/dev" "$stage/root" "$stage/var/tmp" "$stage/usr/bin" "$stage/home"
chmod 1777 "$stage/tmp" "$stage/var/tmp"
chmod 0700 "$stage/root"

cp "$busybox" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"

# The applets the container tooling relies on; each is linked only if this
# busybox build offers it.
wanted="sh ash ping ping6 nslookup wget nc httpd sleep cat echo ls ip ifconfig hostname
route ps top env true false id uname grep egrep sed awk wc head tail tr date kill mkdir rm
touch printf test [ [[ arping traceroute traceroute6 netstat cp mv ln chmod chown pwd sort
uniq cut xargs find tee seq nproc timeout stat mount umount arp ipneigh tc brctl which
whoami vi less more du df free uptime dmesg sysctl udhcpc telnet hexdump od base64
sha256sum md5sum tar gzip gunzip basename dirname readlink realpath mktemp expr yes
usleep watch pidof killall setsid nsenter unshare ipcalc xxd diff cmp tac rev fold nl"
available=$("$busybox" --list)
for applet in $wanted; do
    if printf '%s\n' "$available" | grep -qxF -- "$applet"; then
        ln -s busybox "$stage/bin/$applet"
    fi
done

cat > "$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$stage/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nobody:x:65534:
GROUP
# Bind-mount targets for the files berth writes per container.
: > "$stage/etc/hosts"
: > "$stage/etc/hostname"
: > "$stage/etc/resolv.conf"
chmod 0644 "$stage/etc/passwd" "$stage/etc/group" "$stage/etc/hosts" \
           "$stage/etc/hostname" "$stage/etc/resolv.conf"

# 2000-01-01T00:00:00Z; GNU format stores no atime/ctime, so nothing varies.
tar --create --file "$tmp_out" --directory "$stage" \
    --sort=name --format=gnu --mtime=@946684800 \
    --owner=0 --group=0 --numeric-owner \
    .
mv "$tmp_out" "$out"
