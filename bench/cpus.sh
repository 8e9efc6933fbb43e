# bench/cpus.sh - sourced by the benches that put the process they measure on CPUs of its own
# (bench/trunk --node-cpus, bench/route --hub-cpus).
#
# cpus_split OPTION LIST: LIST is taskset's list (e.g. 1, or 2-3,6); sets cpus_rest to the
# machine's other CPUs (a list for taskset) and cpus_n to how many LIST names; exits when LIST
# leaves no CPU for the rest of the bench (OPTION names the option in the message).
cpus_split() {
	local c part
	declare -A mine=()
	for part in ${2//,/ }; do
		case "$part" in
		*-*) for ((c = ${part%-*}; c <= ${part#*-}; c++)); do mine[$c]=1; done ;;
		*) mine[$part]=1 ;;
		esac
	done
	cpus_rest=""
	for ((c = 0; c < $(nproc); c++)); do [ -n "${mine[$c]:-}" ] || cpus_rest="$cpus_rest${cpus_rest:+,}$c"; done
	cpus_n=${#mine[@]}
	if [ -z "$cpus_rest" ] || [ "$cpus_n" -ge "$(nproc)" ]; then
		echo "$1 $2 leaves no CPU for the rest of the bench" >&2
		exit 2
	fi
}
