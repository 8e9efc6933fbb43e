#!/bin/sh
# run-tests.sh - install what is missing, build with AddressSanitizer and
# UndefinedBehaviorSanitizer, warnings as errors, check it (deploy/lint.sh) and run every
# test (unit, property, integration, crash, sip, voice, failover, ha). The failover test and
# the hub partition test make network namespaces: run as root (as CI does, installing
# packages); where they cannot, they fail (RELAIS_REQUIRE_NETNS=1) rather than being
# skipped. (ctest alone skips them there.)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/deploy/deps.sh" --test
build="$top/build-test"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DRELAIS_SANITIZE=address,undefined -DRELAIS_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" 2>&1 | grep -E "warning:|error:" && { echo "build has warnings or errors"; exit 1; } || true
cmake --build "$build" -j"$(nproc)" >/dev/null
sh "$top/deploy/lint.sh" "$build"
cd "$build"
# detect_stack_use_after_return: a pointer to a stack buffer used after its function
# returned (a reason text handed to a library that sends it later, say) fails the test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export RELAIS_REQUIRE_NETNS=1
ctest --output-on-failure --timeout 600 "$@"
