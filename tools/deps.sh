#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install every Debian package zinc needs to build and test. Idempotent: installs only what is missing.
set -euo pipefail

PKGS=(
    build-essential cmake pkg-config clang clang-format clang-tidy cppcheck libclang-rt-14-dev
    libzmq3-dev libczmq-dev libmsgpack-dev libsodium-dev libinih-dev libcmocka-dev
    liblmdb-dev libraft-dev libuv1-dev libvirt-dev libmicrohttpd-dev libjansson-dev
    curl python3 python3-openstackclient ansible-core
    # Tempest's own response schemas, which the compute and volume API tests check answers with
    python3-tempest
    # compute: image checksums (libcrypto), and the real QEMU boot test: QEMU in software
    # emulation through libvirt's embedded driver (qemu:///embed), qemu-img for qcow2 overlays,
    # and libvirt-daemon-system for the libvirt-qemu user the driver's defaults name.
    libssl-dev qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu
    libvirt-daemon-system libvirt-clients
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: installing ${#missing[@]} package(s): ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be stale or absent on a fresh machine; refresh them once before installing.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done" >&2
