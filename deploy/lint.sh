#!/bin/sh
# lint.sh - static checks of the production code: cppcheck (warnings and portability) and
# the house format (.clang-format). Exits non-zero on any finding. Needs the generated
# protobuf header: lint.sh BUILD_DIR.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
cd "$top"
dirs="hub node lib ctl agent-client"
incs=""
for d in $(find $dirs -type d); do incs="$incs -I $d"; done
# shellcheck disable=SC2086
out=$(cppcheck --quiet --enable=warning,portability --std=c11 --inline-suppr \
	--suppress=missingIncludeSystem $incs -I "$build/proto" $dirs 2>&1) || true
if [ -n "$out" ]; then
	echo "$out"
	echo "lint: cppcheck findings"
	exit 1
fi
if command -v clang-format >/dev/null 2>&1; then
	bad=$(git ls-files '*.c' '*.h' | while read -r f; do
		clang-format --dry-run "$f" 2>&1 | grep -q . && echo "$f"
	done || true)
	if [ -n "$bad" ]; then
		echo "$bad"
		echo "lint: files not in the house format (clang-format -i them)"
		exit 1
	fi
fi
echo "lint: clean"
