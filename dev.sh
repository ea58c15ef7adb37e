#!/usr/bin/env bash
# Set-up and entry points for a fresh Debian/Ubuntu machine with Rust (rustup's cargo on PATH).
#
#   ./dev.sh demo    install what the build needs, then run the kiosk in demo mode
#   ./dev.sh test    install what the build and the tests need, then run every test
#
# Both install missing Debian packages with apt-get (through sudo when not root).
set -euo pipefail
cd "$(dirname "$0")"

# What building needs: a C compiler for SQLite (bundled), pkg-config and fontconfig for Slint.
BUILD_PACKAGES=(build-essential pkg-config libfontconfig1-dev)
# What the tests need besides the build: the speech engine and the ALSA player (tests/it/voice.rs);
# Chromium and a Chinese font for the public progress page's browser test (tests/it/public.rs);
# a Python venv (schemathesis from PyPI) and curl for the contract test (tests/contract/run.sh);
# the PostgreSQL server the back office's PostgreSQL tests start (tests/it/pg.rs); the disk tools
# make-disk's layout tests use (tests/it/image_build.rs).
TEST_PACKAGES=(espeak-ng alsa-utils chromium fonts-wqy-microhei python3-venv curl postgresql
    dosfstools mtools fdisk e2fsprogs)
# What a desktop window needs at run time (winit on X11 or Wayland).
DESKTOP_PACKAGES=(libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1)
# What the power-loss test's LazyFS build needs (tests/powerloss/install-lazyfs.sh).
POWERLOSS_PACKAGES=(g++ cmake pkg-config git python3 libfuse3-dev fuse3 libtoml11-dev libspdlog-dev)

install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dev.sh: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

case "${1:-}" in
    demo)
        install_packages "${BUILD_PACKAGES[@]}" "${DESKTOP_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        exec cargo run --release --locked
        ;;
    test)
        install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${POWERLOSS_PACKAGES[@]}"
        # LazyFS for the power-loss test; without it (or /dev/fuse) that test says it skipped.
        if [ -e /dev/fuse ]; then
            tests/powerloss/install-lazyfs.sh >/dev/null || echo "dev.sh: LazyFS build failed; the power-loss test will skip" >&2
        fi
        cargo test --locked
        # The API contract: schemathesis against the real back office (docs/county.md), bounded.
        timeout 900 tests/contract/run.sh
        # Every decoder of outside input, fuzzed for a bounded time (docs/fuzzing.md); needs the
        # nightly toolchain, cargo-fuzz is installed from crates.io when missing.
        if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
            fuzz/run-ci.sh 20
        else
            echo "dev.sh: no nightly toolchain: fuzzing skipped (rustup toolchain install nightly)" >&2
        fi
        ;;
    *)
        echo "usage: ./dev.sh demo|test" >&2
        exit 2
        ;;
esac
