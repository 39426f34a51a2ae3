#!/usr/bin/env bash
# One virtual environment per peer under .bench/, from benchmarks/requirements/<peer>.txt.
#   bash benchmarks/setup.sh                 # every peer
#   bash benchmarks/setup.sh prefect dbos    # some
# A peer that fails to install is reported and skipped; `make bench` then records it as
# "not available". A venv is rebuilt only when its requirements file changed.
set -u
PYTHON=${PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/.bench"
mkdir -p "$BENCH"
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(prefect dagster airflow dbos)
status=0
for peer in "${peers[@]}"; do
    req="$ROOT/benchmarks/requirements/$peer.txt"
    venv="$BENCH/$peer"
    stamp="$venv/.installed"
    if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
        echo "bench-setup: $peer is up to date ($venv)"
        continue
    fi
    echo "bench-setup: installing $peer into $venv (log: $BENCH/$peer.log)"
    rm -rf "$venv"
    if "$PYTHON" -m venv "$venv" \
        && "$venv/bin/python" -m pip install --quiet --upgrade pip >"$BENCH/$peer.log" 2>&1 \
        && "$venv/bin/python" -m pip install -r "$req" >>"$BENCH/$peer.log" 2>&1; then
        cp "$req" "$stamp"
        echo "bench-setup: $peer ready: $(grep -v '^#' "$req" | tr '\n' ' ')"
    else
        echo "bench-setup: $peer FAILED to install; see $BENCH/$peer.log" >&2
        status=1
    fi
done
exit $status
