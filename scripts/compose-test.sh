#!/usr/bin/env bash
# `make compose-test`: the docker-compose cluster for real, end to end.
#
#   scripts/compose-test.sh                                     # FROM python:3.11-slim
#   BASE_IMAGE=localbase/python:3.11 scripts/compose-test.sh    # any Debian base with python3
#
#   1. builds a wheelhouse of the project's dependencies on the host, so that the image builds
#      without a package index;
#   2. builds the image;
#   3. starts the scheduler, two workers and JupyterLab (`up -d --scale worker=2`);
#   4. waits for their healthchecks, and checks that client, scheduler and workers agree on
#      library versions;
#   5. runs `daskpar make-data` and `daskpar train` in one-off client containers;
#   6. runs notebooks/04-cluster-and-monitoring.ipynb against the cluster in a client container;
#   7. kills a worker container in the middle of a fit, and checks that the fit finishes;
#   8. stops the cluster, whatever happened.
#
# It needs a Docker engine and `docker compose` or `docker-compose`. It runs as its own compose
# project with its own data folder, so a cluster of yours is left alone, but it publishes the
# same ports on 127.0.0.1 (8786, 8787, 8888; change them with DASKPAR_SCHEDULER_PORT,
# DASKPAR_DASHBOARD_PORT, DASKPAR_JUPYTER_PORT).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${VENV:-.venv}
notebook=04-cluster-and-monitoring.ipynb
export BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-daskpar-compose-test}
export DASKPAR_IMAGE=${DASKPAR_IMAGE:-daskpar:compose-test}
# Creating a container can take minutes on a slow storage driver (vfs copies the whole image).
export COMPOSE_HTTP_TIMEOUT=${COMPOSE_HTTP_TIMEOUT:-600}
# Files the containers write belong to whoever runs this, so that the cleanup can remove them.
DASKPAR_USER=${DASKPAR_USER:-$(id -u):$(id -g)}
export DASKPAR_USER

fail() {
  echo "compose-test: FAILED: $*" >&2
  exit 1
}

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  fail "needs \`docker compose\` or \`docker-compose\`"
fi
docker info >/dev/null 2>&1 || fail "no Docker engine answers \`docker info\`"
[[ -x $venv/bin/python ]] || fail "no $venv/bin/python: run \`make test\` or \`make demo\` once"

work=$(mktemp -d "${TMPDIR:-/tmp}/daskpar-compose-test.XXXXXX")
mkdir "$work/data"
chmod 1777 "$work/data" # writable by DASKPAR_USER, whoever that is
export DASKPAR_DATA=$work/data
started=$SECONDS
step_no=0
step_start=$SECONDS

step() {
  step_no=$1
  shift
  step_start=$SECONDS
  echo
  echo "== $step_no. $* ($(date -u +%T) UTC)"
}

passed() {
  echo "-- step $step_no passed in $((SECONDS - step_start)) s"
}

cleanup() {
  local status=$?
  set +e
  if ((status)); then
    echo
    echo "== logs of the cluster"
    "${compose[@]}" logs --no-color --tail=40
  fi
  step 8 "${compose[*]} down"
  "${compose[@]}" --profile client down --remove-orphans --timeout 20
  passed
  rm -rf "$work"
  echo
  if ((status)); then
    echo "compose-test: FAILED (exit status $status) after $((SECONDS - started)) s"
  else
    echo "compose-test: passed in $((SECONDS - started)) s"
  fi
  exit "$status"
}
trap cleanup EXIT

# Runs a command in a one-off client container (DASK_SCHEDULER_ADDRESS=tcp://scheduler:8786).
client() {
  "${compose[@]}" run --rm -T client "$@" </dev/null
}

# The rows of the epoch table that `daskpar train` prints last.
epoch_rows() {
  awk '$1 == "epoch" {table = 1; next} table && $1 ~ /^[0-9]+$/' "$1"
}

step 1 "wheelhouse: the project's dependencies as wheels, fetched on the host"
# Wheels for the image's Python, which may be older than the host's: a package may require a
# newer patch release than the image has.
image_python=$(docker run --rm "$BASE_IMAGE" python3 -c 'import platform; print(platform.python_version())')
# daskpar's dependencies with the notebook extra (and the extras it names), from pyproject.toml.
mapfile -t requirements < <("$venv/bin/python" - <<'EOF_PY'
import re
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
out, extras, done = list(project["dependencies"]), ["notebook"], set()
while extras:
    extra = extras.pop()
    done.add(extra)
    for req in project["optional-dependencies"][extra]:
        own = re.fullmatch(r"daskpar\[(.*)\]", req)
        if own:
            extras += [e for e in own.group(1).split(",") if e not in done]
        else:
            out.append(req)
print("\n".join(sorted(set(out))))
EOF_PY
)
echo "image Python $image_python; ${#requirements[@]} requirements: ${requirements[*]}"
"$venv/bin/python" -m pip download --quiet --dest wheelhouse --only-binary=:all: \
  --python-version "$image_python" "${requirements[@]}" "setuptools>=68"
echo "wheelhouse/: $(find wheelhouse -name '*.whl' | wc -l) wheels, $(du -sh wheelhouse | cut -f1)"
passed

step 2 "image $DASKPAR_IMAGE from $BASE_IMAGE"
"${compose[@]}" build scheduler
docker run --rm "$DASKPAR_IMAGE" python -c '
import sys, dask, distributed, sklearn, jupyterlab
from importlib.metadata import version
print("python", sys.version.split()[0], "daskpar", version("daskpar"), "dask", dask.__version__,
      "distributed", distributed.__version__, "scikit-learn", sklearn.__version__,
      "jupyterlab", jupyterlab.__version__)'
passed

step 3 "${compose[*]} up -d --scale worker=2"
"${compose[@]}" up -d --no-build --scale worker=2
passed

step 4 "wait for the healthchecks; the same versions everywhere"
deadline=$((SECONDS + 300))
while :; do
  mapfile -t ids < <("${compose[@]}" ps -q)
  health=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}' "${ids[@]}" 2>&1 || true)
  # The scheduler, two workers and JupyterLab.
  if ((${#ids[@]} == 4)) && [[ $(grep -c ' healthy$' <<<"$health") == 4 ]]; then
    break
  fi
  ((SECONDS < deadline)) || fail "not healthy after 300 s:"$'\n'"$health"
  sleep 2
done
echo "$health"
client python -c '
import warnings
from distributed import Client
with warnings.catch_warnings():
    warnings.simplefilter("error")  # distributed warns of a version mismatch
    with Client(timeout=60) as client:  # at DASK_SCHEDULER_ADDRESS
        client.wait_for_workers(2, timeout=60)
        versions = client.get_versions(check=True, packages=["sklearn", "daskpar"])
print(len(versions["workers"]), "workers, a scheduler and a client with the same versions")'
passed

step 5 "daskpar make-data and daskpar train in a client container"
client sh -ec '
  daskpar make-data /data/blobs.zarr --rows 200000 --features 20 --chunk-rows 20000
  daskpar train /data/blobs.zarr --scheduler tcp://scheduler:8786 --epochs 3' \
  | tee "$work/train.txt"
grep -q '^cluster: 2 workers at ' "$work/train.txt" || fail "train did not see 2 workers"
[[ $(epoch_rows "$work/train.txt" | wc -l) == 3 ]] || fail "train printed no table of 3 epochs"
passed

step 6 "notebooks/$notebook against the cluster"
if [[ -f notebooks/$notebook ]]; then
  # What the notebook printed, from the executed copy.
  print_outputs='
import sys, nbformat
for cell in nbformat.read(sys.argv[1], as_version=4).cells:
    for output in cell.get("outputs", []):
        if output.get("name") == "stdout":
            sys.stdout.write(output["text"])'
  # Executed in a copy, so that what it writes (its performance report) stays in the container.
  client sh -ec '
    cp "/notebooks/$1" /tmp/ && cd /tmp
    jupyter execute --timeout=600 --output=executed "$1"
    python -c "$2" executed.ipynb' sh "$notebook" "$print_outputs"
else
  echo "SKIPPED: notebooks/$notebook does not exist"
fi
passed

step 7 "kill a worker container in the middle of a fit; the fit must finish"
client sh -ec '
  daskpar make-data /data/long.zarr --rows 2500000 --features 20 --chunk-rows 50000
  daskpar train /data/long.zarr --scheduler tcp://scheduler:8786 --epochs 12' \
  >"$work/long.txt" 2>&1 &
fit=$!
until grep -q '^training ' "$work/long.txt"; do
  kill -0 "$fit" 2>/dev/null || {
    cat "$work/long.txt"
    fail "the fit ended before it started training"
  }
  sleep 1
done
sleep 3
kill -0 "$fit" 2>/dev/null || fail "the fit finished before a worker was killed: make it longer"
mapfile -t workers < <("${compose[@]}" ps -q worker)
victim=${workers[0]}
docker kill "$victim" >/dev/null
echo "killed worker container ${victim:0:12} at $(date -u +%T) UTC, $((SECONDS - step_start)) s into the step"
fit_status=0
wait "$fit" || fit_status=$?
cat "$work/long.txt"
((fit_status == 0)) || fail "the fit exited with status $fit_status after a worker was killed"
[[ $(epoch_rows "$work/long.txt" | wc -l) == 12 ]] || fail "the fit printed no table of 12 epochs"
removed=$("${compose[@]}" logs --no-color scheduler | grep 'Remove worker' || true)
[[ -n $removed ]] || fail "the scheduler's log does not show a worker removed"
echo "$removed"
echo "the fit finished with exit status 0 after losing a worker; the killed container:" \
  "$(docker inspect -f '{{.State.Status}}, restarted {{.RestartCount}} times' "$victim")"
passed
