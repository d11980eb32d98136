#!/usr/bin/env bash
# compare.sh: loss and CPU time per datagram of examples/gunicorn-prometheus
# against the floor program (a reader that only counts), and optionally
# statsd_exporter, measured by statsdload in alternating rounds, over UDP and
# unixgram on loopback.
#
#	bash examples/statsdload/compare.sh
#	ROUNDS=7 STATSD_EXPORTER=$(go env GOPATH)/bin/statsd_exporter bash examples/statsdload/compare.sh
#
# Each round starts every target in turn on the same addresses, sends COUNT
# datagrams (COUNT/3 Gunicorn requests) at RATE a second, reads the target's
# counter and CPU time, and stops it. Targets alternate within a round so that
# a machine whose speed drifts affects them alike; single runs vary by 20% on a
# small shared machine, so the ratio is of medians.
#
# Environment: ROUNDS (5), RATE (200000), COUNT (600000), SENDERS (2: one
# sender's system calls, which on loopback carry the whole UDP delivery, do
# not reach 200,000 a second on a small machine), TRANSPORTS
# ("udp unixgram"), STATSD_EXPORTER (a statsd_exporter binary; none by
# default), PORT (19125) and WEB_PORT (19102) on 127.0.0.1, OUT (a file for
# every run's key=value line; a temporary one by default), EXTRA_ARGS (more
# flags for gunicorn-prometheus).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
RATE=${RATE:-200000}
COUNT=${COUNT:-600000}
SENDERS=${SENDERS:-2}
TRANSPORTS=${TRANSPORTS:-udp unixgram}
PORT=${PORT:-19125}
WEB_PORT=${WEB_PORT:-19102}
STATSD_EXPORTER=${STATSD_EXPORTER:-}
EXTRA_ARGS=${EXTRA_ARGS:-}

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
OUT=${OUT:-$tmp/runs.txt}
: >"$OUT"

echo "building into $tmp" >&2
go -C examples build -o "$tmp/statsdload" ./statsdload
go -C examples build -o "$tmp/floor" ./statsdload/floor
go -C examples build -o "$tmp/gunicorn-prometheus" ./gunicorn-prometheus

targets=(floor ours)
if [ -n "$STATSD_EXPORTER" ]; then targets+=(statsd_exporter); fi
sock=$tmp/statsd.sock
web=127.0.0.1:$WEB_PORT

# start TARGET TRANSPORT: start a target listening on the transport only.
start() {
	local target=$1 transport=$2 udp="" ux=""
	if [ "$transport" = udp ]; then udp=127.0.0.1:$PORT; else ux=$sock; fi
	case $target in
	floor)
		"$tmp/floor" --statsd.listen-udp="$udp" --statsd.listen-unixgram="$ux" \
			--web.listen-address="$web" 2>>"$tmp/target.log" &
		;;
	ours)
		# shellcheck disable=SC2086
		"$tmp/gunicorn-prometheus" --statsd.listen-udp="$udp" --statsd.listen-unixgram="$ux" \
			--statsd.listen-tcp= --statsd.unixsocket-mode=666 --web.listen-address="$web" \
			--log.level=warn $EXTRA_ARGS 2>>"$tmp/target.log" &
		;;
	statsd_exporter)
		local args=(--statsd.listen-tcp= --web.listen-address="$web" --log.level=warn)
		if [ -n "$udp" ]; then args+=(--statsd.listen-udp="$udp"); else args+=(--statsd.listen-udp= --statsd.listen-unixgram="$ux" --statsd.unixsocket-mode=666); fi
		"$STATSD_EXPORTER" "${args[@]}" 2>>"$tmp/target.log" &
		;;
	esac
	pid=$!
}

stop() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
	rm -f "$sock"
}

# The figure each target's counter is read from.
metric_args() {
	case $1 in
	floor) echo "-metric floor_datagrams_total -counts datagrams" ;;
	ours) echo "-metric gunicorn_requests_total -counts requests" ;;
	statsd_exporter) echo "-metric gunicorn_requests -counts requests" ;;
	esac
}

echo "machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')" >&2
for round in $(seq 1 "$ROUNDS"); do
	for transport in $TRANSPORTS; do
		if [ "$transport" = udp ]; then dst=udp://127.0.0.1:$PORT; else dst=unixgram://$sock; fi
		# Alternate the order too: odd rounds floor first, even rounds last.
		order=("${targets[@]}")
		if ((round % 2 == 0)); then
			order=()
			for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
		fi
		for target in "${order[@]}"; do
			start "$target" "$transport"
			# shellcheck disable=SC2046
			line=$("$tmp/statsdload" -target "$dst" -rate "$RATE" -count "$COUNT" -senders "$SENDERS" \
				-metrics-url "http://$web/metrics" -pid "$pid" $(metric_args "$target") -wait-target 15s) || {
				echo "round $round $transport $target: statsdload failed; target log:" >&2
				tail -20 "$tmp/target.log" >&2
				stop
				exit 1
			}
			stop
			echo "round=$round transport=$transport who=$target $line" | tee -a "$OUT" >&2
		done
	done
done

# The summary: per transport and target, every run's loss and CPU, medians,
# and the CPU ratio of medians against the floor.
awk -v rounds="$ROUNDS" '
function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	k = val("transport") SUBSEP val("who")
	if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	loss[k] = loss[k] " " val("loss_pct"); cpu[k] = cpu[k] " " val("cpu_ns_per_datagram"); rate[k] = rate[k] " " val("send_rate")
}
END {
	printf "%-9s %-16s %12s %12s %14s %12s   %s\n", "transport", "target", "loss% med", "loss% max", "CPU ns/dgram", "send/s med", "CPU ns/datagram, each round"
	for (i = 1; i <= nk; i++) {
		split(keys[i], p, SUBSEP)
		n = split(loss[keys[i]], l, " "); mx = 0; for (j = 1; j <= n; j++) if (l[j] + 0 > mx) mx = l[j] + 0
		m = median(cpu[keys[i]]); med[keys[i]] = m
		printf "%-9s %-16s %12.4f %12.4f %14.0f %12.0f  %s\n", p[1], p[2], median(loss[keys[i]]), mx, m, median(rate[keys[i]]), cpu[keys[i]]
	}
	for (i = 1; i <= nk; i++) {
		split(keys[i], p, SUBSEP)
		if (p[2] == "floor") continue
		f = med[p[1] SUBSEP "floor"]
		if (f > 0) printf "ratio %s %s/floor (median CPU ns per datagram): %.3f\n", p[1], p[2], med[keys[i]] / f
	}
}' "$OUT"
