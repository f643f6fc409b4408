#!/bin/sh
# The HTML timeline in a headless Chromium: the page made for a known run
# (bank_race seed 6: the race, 13 steps) renders the tracks, slices,
# instants and flows its JSON holds, highlights the failure, and a click
# on a slice shows that event's details and trace line.  Keeps a
# screenshot as an artifact: <outdir>/timeline-bank_race-seed6.png.
#   timeline_browser.sh <bank_race binary> <outdir>
# Exit 77 (skipped) when no Chromium is installed.
set -u
bank=$1
out=$2
browser=
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
    echo "SKIP: no chromium installed (apt-get install chromium)"
    exit 77
fi
work=$(mktemp -d /tmp/weft-browser-XXXXXX)
trap 'rm -rf "$work"' EXIT
html=$work/bank_race-seed6.html
json=$work/bank_race-seed6.json
WEFT_SEED=6 WEFT_TRACE=$html "$bank" --test bank_race >/dev/null 2>&1
WEFT_SEED=6 WEFT_TRACE=$json "$bank" --test bank_race >/dev/null 2>&1
[ -s "$html" ] || { echo "FAIL: no timeline written to $html"; exit 1; }

# The machine's network is closed: without these flags Chromium waits on it.
run() {
    rm -rf "$work/profile"
    timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/profile" "$@" 2>"$work/stderr"
}

status=0
check() { # what, expected, got
    if [ "$2" = "$3" ]; then
        echo "ok: $1 = $3"
    else
        echo "FAIL: $1: expected '$2', got '$3'"
        status=1
    fi
}
attr() { grep -o "$1=\"[^\"]*\"" "$work/dom.html" | head -1 | sed "s/^$1=\"//; s/\"$//"; }

run --dump-dom "file://$html#click=2" >"$work/dom.html"
[ -s "$work/dom.html" ] || { echo "FAIL: chromium printed no DOM"; cat "$work/stderr"; exit 1; }

# what the JSON holds (metadata thread_name lines; X, i and s events)
check "tracks" "$(grep -o '"name":"thread_name"' "$json" | wc -l)" "$(attr data-tracks)"
check "slices" "$(grep -o '{"ph":"X"' "$json" | wc -l)" "$(attr data-slices)"
check "instants" "$(grep -o '{"ph":"i"' "$json" | wc -l)" "$(attr data-instants)"
check "flows" "$(grep -o '{"ph":"s"' "$json" | wc -l)" "$(attr data-flows)"
check "slices drawn" "$(attr data-slices)" "$(grep -o 'class="slice cat-[a-z]*' "$work/dom.html" | wc -l)"
check "instants drawn" "$(attr data-instants)" "$(grep -o 'class="instant cat-[a-z]*' "$work/dom.html" | wc -l)"
check "flow arrows drawn" "$(attr data-flows)" "$(grep -o '<line ' "$work/dom.html" | wc -l)"
check "track names" "sim clock (timers, deadlock)|root (block_on's future)|task 1 (../examples/bank_race.c:N)|task 2 (../examples/bank_race.c:N)" \
    "$(attr data-track-names | sed "s/&#39;/'/g; s/&apos;/'/g; s/:[0-9]*)/:N)/g")"
check "failure" "FAIL WEFT_EFAILED" "$(attr data-failure)"
check "failing event highlighted" "1" "$(grep -o 'class="instant cat-fail fail' "$work/dom.html" | wc -l)"
check "failure in the bar" "1" "$(grep -c 'failure: ../examples/bank_race.c:[0-9]*: assertion failed: b-&gt;balance &gt;= 0' "$work/dom.html")"
# the click on slice 2 (the third poll: event 5) selected it and shows its trace line
check "clicked slice selected" "1" "$(grep -o 'class="slice cat-poll selected"' "$work/dom.html" | wc -l)"
check "details show its trace line" "1" "$(grep -c 'trace line: 5 pick task=2 of=2' "$work/dom.html")"

mkdir -p "$out"
png=$out/timeline-bank_race-seed6.png
rm -f "$png"
run --window-size=1400,420 --screenshot="$png" "file://$html" >/dev/null
if [ -s "$png" ] && [ "$(head -c 4 "$png" | od -An -c | tr -d ' ')" = "211PNG" ]; then
    echo "ok: screenshot $png"
else
    echo "FAIL: no screenshot at $png"
    status=1
fi
exit $status
