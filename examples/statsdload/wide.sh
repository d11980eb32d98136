#!/usr/bin/env bash
# wide.sh: wide tag sets (issue 12, finding 3) against examples/gunicorn-prometheus
# and, with STATSD_EXPORTER, statsd_exporter, in alternating rounds over UDP
# on loopback: peak resident memory, scrape time and size, and whether every
# Gunicorn request was counted.
#
#	bash examples/statsdload/wide.sh
#	ROUNDS=3 STATSD_EXPORTER=/tmp/se/statsd_exporter bash examples/statsdload/wide.sh
#
# Each run starts the target afresh and sends LINES Gunicorn requests at RATE
# datagrams a second, each request's three datagrams followed by one line of
# TAGS tags over NAMES names whose tag values change every line (statsdload
# -wide-tags TAGS -wide-names NAMES: every line a new series), scraping the
# target every SCRAPE_EVERY as Prometheus would. statsdload then reads the
# target's request counter, makes one last whole scrape, and reports the
# target's peak resident size (VmHWM) and what the scrapes took.
#
# A watchdog kills a target whose resident size passes RSS_CAP bytes (the
# machine is shared): the run is then reported as killed, with the size it
# had reached.
#
# Environment: ROUNDS (3), LINES (10500: the issue's 10,500 series), RATE
# (4000 datagrams a second: 1,000 requests and 1,000 wide lines), TAGS (500),
# NAMES (900), TYPE (c; ms for timers), SCRAPE_EVERY (10s), TARGETS ("ours
# statsd_exporter" when STATSD_EXPORTER is set, else "ours"), RSS_CAP
# (6 GiB), PORT (19125) and WEB_PORT (19102) on 127.0.0.1, OUT (a file for
# every run's line; statsdload's warnings go to $OUT.log), EXTRA_ARGS (more flags for gunicorn-prometheus), OURS_ENV
# (its environment: OURS_ENV=GOMEMLIMIT=off runs it without the soft memory
# limit it takes from --otel.max-memory).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
LINES=${LINES:-10500}
RATE=${RATE:-4000}
TAGS=${TAGS:-500}
NAMES=${NAMES:-900}
TYPE=${TYPE:-c}
SCRAPE_EVERY=${SCRAPE_EVERY:-10s}
PORT=${PORT:-19125}
WEB_PORT=${WEB_PORT:-19102}
RSS_CAP=${RSS_CAP:-$((6 << 30))}
STATSD_EXPORTER=${STATSD_EXPORTER:-}
EXTRA_ARGS=${EXTRA_ARGS:-}
OURS_ENV=${OURS_ENV:-}
if [ -n "$STATSD_EXPORTER" ]; then TARGETS=${TARGETS:-ours statsd_exporter}; else TARGETS=${TARGETS:-ours}; fi

tmp=$(mktemp -d)
pid=""
wd=""
cleanup() {
	if [ -n "$wd" ]; then kill "$wd" 2>/dev/null || true; fi
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
OUT=${OUT:-$tmp/runs.txt}
: >"$OUT"
: >"$OUT.log"

echo "building into $tmp" >&2
go -C examples build -o "$tmp/statsdload" ./statsdload
go -C examples build -o "$tmp/gunicorn-prometheus" ./gunicorn-prometheus
web=127.0.0.1:$WEB_PORT

start() {
	case $1 in
	ours)
		# shellcheck disable=SC2086
		env $OURS_ENV "$tmp/gunicorn-prometheus" --statsd.listen-udp=127.0.0.1:$PORT --statsd.listen-tcp= \
			--web.listen-address="$web" --log.level=warn $EXTRA_ARGS 2>>"$tmp/target.log" &
		;;
	statsd_exporter)
		"$STATSD_EXPORTER" --statsd.listen-udp=127.0.0.1:$PORT --statsd.listen-tcp= \
			--web.listen-address="$web" --log.level=warn 2>>"$tmp/target.log" &
		;;
	esac
	pid=$!
	# The watchdog: kill the target if it grows past RSS_CAP.
	rm -f "$tmp/killed"
	(
		while kill -0 "$pid" 2>/dev/null; do
			rss=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$pid/status" 2>/dev/null || echo 0)
			if [ "${rss:-0}" -gt "$RSS_CAP" ]; then
				echo "$rss" >"$tmp/killed"
				kill -9 "$pid"
				break
			fi
			sleep 0.2
		done
	) &
	wd=$!
}

stop() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	kill "$wd" 2>/dev/null || true
	wait "$wd" 2>/dev/null || true
	pid="" wd=""
}

metric() {
	case $1 in
	ours) echo gunicorn_requests_total ;;
	statsd_exporter) echo gunicorn_requests ;;
	esac
}

# What the target counted of its own limits and series, from one more scrape
# after the report (ours: the bridge's and the mapper's counters; both: the
# wide series exposed).
extras() {
	curl -s --max-time 120 "http://$web/metrics" >"$tmp/expo" || { echo "final_scrape=failed"; return; }
	awk -v who="$1" '
	# One line per series: a counter'"'"'s, or a histogram'"'"'s or summary'"'"'s _count.
	/^statsdload_wide_[0-9]+(_bucket|_sum)?[{ ]/ && !/^statsdload_wide_[0-9]+[{ ]/ { next }
	/^statsdload_wide_[0-9]+[{ ]/ && /quantile="/ { next }
	/^statsdload_wide_[0-9]+(_count)?[{ ]/ { if (index($0, "otel_metric_overflow=\"true\"")) over++; else series++ }
	who == "ours" && /^gunicornotel_memory_bytes / { mem = $2 }
	who == "ours" && /^gunicornotel_series_overflow_total\{reason="memory_limit"\}/ { oml = $2 }
	who == "ours" && /^gunicornotel_series_overflow_total\{reason="attribute_bytes"\}/ { oab = $2 }
	who == "ours" && /^gunicornotel_samples_rejected_total\{reason="too_long"\}/ { tl = $2 }
	who == "ours" && /^gunicornotel_tags_dropped_total\{reason="too_many"\}/ { tm = $2 }
	who == "ours" && /^gunicornotel_server_kernel_drops_total/ { kd += $2 }
	END {
		printf "wide_series=%d wide_overflow_series=%d", series, over
		if (who == "ours") printf " bridge_memory_bytes=%s overflow_memory_limit=%s overflow_attribute_bytes=%s rejected_too_long=%s tags_dropped_too_many=%s kernel_drops=%s", mem + 0, oml + 0, oab + 0, tl + 0, tm + 0, kd + 0
		printf "\n"
	}' "$tmp/expo"
}

read -ra targets <<<"$TARGETS"
echo "machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')" >&2
for round in $(seq 1 "$ROUNDS"); do
	order=("${targets[@]}")
	if ((round % 2 == 0)); then
		order=()
		for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
	fi
	for target in "${order[@]}"; do
		start "$target"
		rc=0
		line=$("$tmp/statsdload" -target "udp://127.0.0.1:$PORT" -rate "$RATE" -count $((4 * LINES)) \
			-wide-tags "$TAGS" -wide-names "$NAMES" -wide-type "$TYPE" -scrape-every "$SCRAPE_EVERY" \
			-scrape-timeout 120s -deadline 120s -wait-target 15s \
			-metrics-url "http://$web/metrics" -pid "$pid" -metric "$(metric "$target")" 2>>"$OUT.log") || rc=$?
		if [ -f "$tmp/killed" ]; then
			line="$line killed_at_rss=$(cat "$tmp/killed")"
		else
			line="$line $(extras "$target")"
		fi
		stop
		echo "round=$round who=$target exit=$rc $line" | tee -a "$OUT" >&2
	done
done

# The summary: per target, the median and range of each figure.
awk '
function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	if (n == 0) return 0
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
function range(list,   a, n, i, lo, hi) {
	n = split(list, a, " "); lo = a[1]; hi = a[1]
	for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
	return lo "-" hi
}
{
	k = val("who")
	if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	rss[k] = rss[k] " " val("rss_peak_bytes") / 1048576
	smax[k] = smax[k] " " val("scrape_max_s"); slast[k] = slast[k] " " val("scrape_last_s")
	sbytes[k] = sbytes[k] " " val("scrape_bytes_last") / 1048576
	loss[k] = loss[k] " " val("loss_pct")
	if (val("killed_at_rss") != "") killed[k]++
}
END {
	printf "%-16s %22s %22s %22s %18s %18s %s\n", "target", "peak RSS MiB med(range)", "scrape max s", "scrape last s", "last scrape MiB", "Gunicorn loss %", "killed"
	for (i = 1; i <= nk; i++) {
		k = keys[i]
		printf "%-16s %8.1f (%s) %8.2f (%s) %8.2f (%s) %8.1f %12.2f (%s) %d\n", k, median(rss[k]), range(rss[k]), median(smax[k]), range(smax[k]), median(slast[k]), range(slast[k]), median(sbytes[k]), median(loss[k]), range(loss[k]), killed[k]
	}
}' "$OUT"
