#!/usr/bin/env bash
# Usage: extract-vmlinux.sh BZIMAGE OUT_VMLINUX
#
# Writes the uncompressed ELF kernel contained in an x86 bzImage to OUT_VMLINUX. A bzImage is a
# small decompressor followed by the compressed kernel; we look for the magic bytes of each
# compression format we know, decompress from every candidate offset and keep the first result
# that is an ELF file. Booting the ELF with qemu -kernel skips the (slow, emulated) decompression.
# Exits non-zero if no candidate yields an ELF file.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 BZIMAGE OUT_VMLINUX" >&2
  exit 2
fi
image=$1
out=$2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# name, magic as a grep -P pattern, decompressor reading stdin
formats=(
  "xz|\\xfd\\x37\\x7a\\x58\\x5a\\x00|xz -dcq"
  "gzip|\\x1f\\x8b\\x08|gzip -dcq"
  "zstd|\\x28\\xb5\\x2f\\xfd|zstd -dcq"
  "lzma|\\x5d\\x00\\x00\\x00|xz -dcq --format=lzma"
)

is_elf() {
  [[ -s $1 ]] && [[ $(head -c 4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]
}

for f in "${formats[@]}"; do
  IFS='|' read -r name magic cmd <<<"$f"
  tool=${cmd%% *}
  command -v "$tool" >/dev/null || continue
  # -b: byte offsets, -o: only the match, -a: treat binary as text, -U: no CR/LF mangling.
  offsets=$(LC_ALL=C grep -obUaP "$magic" "$image" | cut -d: -f1 || true)
  for off in $offsets; do
    # Trailing data after the compressed stream makes the decompressors complain; the ELF check
    # below is what decides success.
    # shellcheck disable=SC2086  # cmd is a word list on purpose
    tail -c +"$((off + 1))" "$image" | $cmd >"$tmp" 2>/dev/null || true
    if is_elf "$tmp"; then
      mv "$tmp" "$out"
      echo "extract-vmlinux: $name stream at offset $off -> $out ($(stat -c %s "$out") bytes)"
      exit 0
    fi
  done
done
echo "extract-vmlinux: no compressed ELF kernel found in $image" >&2
exit 1
