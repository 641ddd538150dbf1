#!/usr/bin/env bash
# .clang-format is enforced: every C++ file git tracks must be formatted as clang-format would.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "format: clang-format missing (scripts/install-deps.sh)"; exit 1; }
mapfile -t files < <(git ls-files '*.h' '*.cc' 2>/dev/null)
((${#files[@]} > 0)) || { echo "format: no C++ files found under $root"; exit 1; }
if ! out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
  grep 'error:' <<<"$out" | cut -d: -f1 | sort -u | sed 's/^/format: not formatted: /'
  echo "format: run clang-format -i on the files above"
  exit 1
fi
echo "format: ${#files[@]} files formatted"
