#!/bin/sh
# Builds LazyFS (https://github.com/dsrhaslab/lazyfs) for the power-loss test
# (tests/it/powerloss.rs) into target/lazyfs/, with toml11 and spdlog from Debian instead of
# the copies its CMake files download. Needs: g++ cmake pkg-config libfuse3-dev fuse3
# libtoml11-dev libspdlog-dev (./dev.sh test installs them) and /dev/fuse.
#
#   tests/powerloss/install-lazyfs.sh [SOURCE_DIR]
#
# SOURCE_DIR: a LazyFS checkout; default: tests/powerloss/lazyfs-src, LazyFS at the pinned commit
# (MIT licence, LICENSE there), vendored so the build needs no network.
# Prints the binary's path; the test finds it there (or in LAZYFS_BIN).
set -eu
COMMIT=a47a5baea559020f29902662de77764b0cbd62ce
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST="$ROOT/target/lazyfs"
BIN="$DEST/lazyfs/build/lazyfs"
if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi
rm -rf "$DEST"
mkdir -p "$DEST"
SRC=${1:-$ROOT/tests/powerloss/lazyfs-src}
if [ -d "$SRC/lazyfs" ]; then
    cp -r "$SRC/lazyfs" "$SRC/libs" "$DEST/"
else
    git clone --quiet https://github.com/dsrhaslab/lazyfs "$DEST/src"
    git -C "$DEST/src" checkout --quiet "${LAZYFS_COMMIT:-$COMMIT}" 2>/dev/null ||
        echo "warning: commit $COMMIT not found, building the default branch" >&2
    mv "$DEST/src/lazyfs" "$DEST/src/libs" "$DEST/"
    rm -rf "$DEST/src"
fi
# toml11 and spdlog from the system instead of FetchContent downloads.
python3 - "$DEST" <<'PY'
import sys
d = sys.argv[1]
p = d + "/libs/libpcache/CMakeLists.txt"
s = open(p).read()
i, j = s.index("include(FetchContent)"), s.index("set(warn_opts")
s = s[:i] + "find_package(toml11 REQUIRED)\nfind_package(spdlog REQUIRED)\n\n" + s[j:]
s = s.replace("target_link_libraries(pcache toml11::toml11 spdlog)",
              "target_link_libraries(pcache toml11::toml11 spdlog::spdlog)")
open(p, "w").write(s)
p = d + "/lazyfs/CMakeLists.txt"
s = open(p).read()
s = s.replace("find_package(Threads REQUIRED)",
              "find_package(Threads REQUIRED)\nfind_package(spdlog REQUIRED)\nfind_package(toml11 REQUIRED)")
s = s.replace("target_link_libraries(${CMAKE_PROJECT_NAME} fuse3 Threads::Threads libpcache.so)",
              "target_link_libraries(${CMAKE_PROJECT_NAME} fuse3 Threads::Threads libpcache.so spdlog::spdlog toml11::toml11)")
open(p, "w").write(s)
PY
(cd "$DEST/libs/libpcache" && ./build.sh) >&2
(cd "$DEST/lazyfs" && ./build.sh) >&2
echo "$BIN"
