#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Refuse the unsafe C functions STYLE.md bans, and bare malloc outside core/zn_mem.c.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' | grep -v '^core/zn_mem\.c$' || true)
[ -z "$files" ] && exit 0
bad=$(echo "$files" | xargs grep -nE '\b(gets|sprintf|vsprintf|strcpy|strcat|strtok|atoi|malloc)\s*\(' \
    | grep -vE '\b(zn_|sodium_|s_)[a-z_]*(malloc|sprintf)\s*\(' | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)' || true)
if [ -n "$bad" ]; then
    echo "banned functions (use the zn_ or bounded forms):" >&2
    echo "$bad" >&2
    exit 1
fi
