#!/usr/bin/env bash
# A trained reader run against the shipped one, on what may be tuned on: export it into the package,
# refit the decision for it, then the news tune halves, the shared floor and the out-of-domain gate.
#
#   training/reader/evaluate_candidate.sh training/out/reader/full-near-misses [--from-checkpoint] [--quality]
#
# The candidate is left in qa/answering/reader/ to look at; `git checkout qa/answering/reader` puts
# the shipped one back. --quality adds bench/quality.py's SQuAD evaluation half (2,000 questions,
# about 10 min), the issue's headline figure; report halves are for the README, never for choosing.
# Figures of the shipped reader to compare with are in the README ("Measured with the reader").
set -euo pipefail
cd "$(dirname "$0")/../.."
run=${1:?usage: $0 RUN_DIR [--from-checkpoint] [--quality]}
shift
export_args=() quality=0
for arg in "$@"; do
    case $arg in
        --from-checkpoint) export_args+=(--from-checkpoint) ;;
        --quality) quality=1 ;;
        *) echo "unknown option $arg" >&2; exit 2 ;;
    esac
done
py=.venv/bin/python
if ! git diff --quiet -- qa/answering/reader; then
    echo "qa/answering/reader/ has changes: commit or \`git checkout qa/answering/reader\` first" >&2
    exit 1
fi
[ -f bench/out/news-index/CURRENT ] || {
    echo "no news index: QA_INDEX_DIR=bench/out/news-index .venv/bin/qa index ../shared/bench/news/articles.jsonl" >&2
    exit 1
}
step() { printf '\n== %s\n' "$*"; }
step "export $run"
$py -m training.reader.export --run "$run" "${export_args[@]}"
step "decision (cross-validated on dev 18-23 and the news tune half)"
$py -m training.reader.decide
step "news development set, tune half"
$py bench/news_eval.py --half tune | grep -v '^index'
step "news time questions, tune half"
$py bench/news_eval.py --set time --half tune | grep -v '^index'
step "shared questions (the floor) on the bundled corpus"
index=$(mktemp -d)
QA_INDEX_DIR=$index .venv/bin/qa index qa/data/corpus > /dev/null 2>&1
QA_INDEX_DIR=$index .venv/bin/qa eval ../shared/eval/questions.jsonl || true  # exits 1 on a miss: listed above
rm -rf "$index"
step "out-of-domain gate (tests/test_out_of_domain.py)"
$py -m pytest -q -p no:xdist tests/test_out_of_domain.py 2>&1 | tail -3 || true
if [ "$quality" = 1 ]; then
    step "SQuAD evaluation half (bench/quality.py --only squad --sample 2000)"
    $py bench/quality.py --only squad --sample 2000
fi
step "the candidate is in qa/answering/reader/ (git diff --stat below); git checkout qa/answering/reader to drop it"
git diff --stat -- qa/answering/reader
