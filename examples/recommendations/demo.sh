#!/usr/bin/env bash
# The main job, two nights in a row (run by `make run`, with the venv on PATH):
#   night 1 (2026-11-19): a clean upload; a fresh model is trained, evaluated and served;
#   night 2 (2026-11-20): one part file lands corrupt; features fails after 3 attempts,
#   model and evaluation fall back to night 1, and deployment keeps serving that standby
#   model, saying so. The run is marked failed: nobody is silently served stale data.
# State is kept apart from any other legato project, under examples/recommendations/data
# (or $RECOMMENDATIONS_DATA_DIR), which is wiped first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
pipeline=examples/recommendations/pipeline.py
data="${RECOMMENDATIONS_DATA_DIR:-examples/recommendations/data}"  # landing/, serving/
case "$data" in
    /*) export LEGATO_HOME="$data/.legato" ;;
    *) export LEGATO_HOME="$PWD/$data/.legato" ;;
esac

bold="" plain=""
if [ -t 1 ]; then
    bold=$(tput bold 2>/dev/null || true)
    plain=$(tput sgr0 2>/dev/null || true)
fi
say() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$plain"; }
show() { printf '$ %s\n' "$*"; "$@"; }

command -v legato >/dev/null || {
    echo "legato is not on PATH: run 'make run', or activate .venv first" >&2
    exit 2
}

say "Starting from a clean slate: $data"
rm -rf "$data"

say "Night 1: 2026-11-19, a clean upload"
show legato materialize "$pipeline" --param day=2026-11-19 --param data_dir="$data"

say "Night 2: 2026-11-20, one part file of the upload is corrupt"
status=0
show legato materialize "$pipeline" --param day=2026-11-20 --param bad_upload=true \
    --param data_dir="$data" || status=$?
if [ "$status" -eq 0 ]; then
    echo "unexpected: the run with a corrupt upload succeeded" >&2
    exit 1
elif [ "$status" -ne 1 ]; then
    echo "unexpected: legato exited with $status (1 means 'the run failed')" >&2
    exit "$status"
fi
echo "(exit code 1, as expected: the run failed, and says so)"

say "The run, step by step"
show legato show last

say "What is being served now"
python - "$data/serving/metadata.json" <<'EOF'
import json
import pathlib
import sys

meta = json.loads(pathlib.Path(sys.argv[1]).read_text())
model, baseline = meta["metrics"]["model"], meta["metrics"]["popularity"]
print(f"model    {meta['model_version']} (trained on {meta['trained_on']})")
print(f"standby  {meta['standby']}: {meta['reason']}")
print(f"quality  precision@10 {model['precision_at_10']:.3f}, recall@10 "
      f"{model['recall_at_10']:.3f} (popularity baseline: "
      f"{baseline['precision_at_10']:.3f}, {baseline['recall_at_10']:.3f})")
EOF

say "Where to look"
cat <<EOF
  cat $data/serving/metadata.json     # what is served, and why (standby: true)
  export LEGATO_HOME=$data/.legato
  legato show last                    # the run: features failed, model/evaluation fallback
  legato logs last features           # the three attempts and the corrupt file's name
  legato logs last deployment         # "STANDBY: ..." from the deployment step
EOF
