#!/usr/bin/env bash
# Builds a Debian root filesystem and a raw disk image for a kiosk terminal (x86_64).
#
#   sudo hardware/image/build-image.sh OUT_DIR
#
# Needs: debootstrap, qemu-utils (qemu-img), e2fsprogs; the kiosk built with the linuxkms backend:
#   cargo build --release --locked --features kms   (needs libudev-dev libinput-dev libxkbcommon-dev)
# The image boots to the kiosk app under systemd (no desktop); technicians then provision the
# station with its kiosk.toml and certificates in /etc/village-kiosk/.
set -euo pipefail
out=${1:?usage: build-image.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
suite=${SUITE:-bookworm}
size=${IMAGE_SIZE:-4G}
bin="$repo/target/release/kiosk"
[ -x "$bin" ] || { echo "build-image: $bin missing; run: cargo build --release --locked --features kms" >&2; exit 2; }

root="$out/rootfs"
mkdir -p "$root"
debootstrap --variant=minbase \
    --include=systemd-sysv,udev,linux-image-amd64,libinput10,libxkbcommon0,libudev1,libfontconfig1,ca-certificates,chrony \
    "$suite" "$root"

install -m 0755 "$bin" "$root/usr/bin/kiosk"
install -m 0644 "$repo/hardware/udev/99-village-kiosk.rules" "$root/etc/udev/rules.d/"
install -m 0644 "$repo/hardware/systemd/village-kiosk.service" "$root/etc/systemd/system/"
install -d -m 0755 "$root/etc/village-kiosk"
install -m 0640 "$here/kiosk.toml.example" "$root/etc/village-kiosk/kiosk.toml"
chroot "$root" useradd --system --create-home --groups dialout,input,video,render kiosk
chroot "$root" systemctl enable village-kiosk.service chrony.service
# No local login prompt on the screen the villagers touch.
chroot "$root" systemctl mask getty@tty1.service

img="$out/village-kiosk.img"
qemu-img create -f raw "$img" "$size"
mkfs.ext4 -q -F -L kiosk-root -d "$root" "$img"
echo "build-image: wrote $img (ext4 root filesystem; install a boot loader per the terminal's firmware)"
