#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# packaging/gen-config.sh BIN_DIR OUT_DIR: write OUT_DIR/ROLE.conf, the complete example INI of
# every zinc-ROLE found in BIN_DIR (its own `--help-config`, so every option is documented at
# its default), plus zincctl.conf. The build runs it for the packages (/etc/zinc/ROLE.conf);
# `packaging/gen-config.sh build/bin packaging/etc` refreshes the copies kept in the tree.
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: packaging/gen-config.sh BIN_DIR OUT_DIR" >&2
    exit 64
fi
bin="$1"
out="$2"
mkdir -p "$out"
# A sanitizer build may be what is at hand: its leak report at exit is not this script's business.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

for exe in "$bin"/zinc-*; do
    [ -x "$exe" ] || continue
    role="${exe##*/zinc-}"
    # Write through a temporary file so a failing agent never leaves half an example behind.
    "$exe" --help-config >"$out/.$role.conf.tmp"
    mv "$out/.$role.conf.tmp" "$out/$role.conf"
done

# zincctl has no --help-config: its four options are few enough to keep here.
cat >"$out/.zincctl.conf.tmp" <<'CONF'
# /etc/zinc/zincctl.conf - every option of zincctl at its default.
# zincctl also reads the file named by $ZINCCTL_CONFIG or --config, and takes --set S.K=V.

[ctl]
# the conductors' call endpoints, comma-separated (zincctl tries them in turn)
#conductor = tcp://127.0.0.1:7104
# how long one command waits for its answer
# range: 10 .. 600000
#timeout_ms = 3000

[security]
# encrypt and authenticate with CURVE (as the agents do)
#curve = false
# directory holding key_name.key and the agents' .key.pub files
#keys_dir = /etc/zinc/keys
# the operator's key: admin sockets accept only admin*.key.pub
#key_name = admin
CONF
mv "$out/.zincctl.conf.tmp" "$out/zincctl.conf"
