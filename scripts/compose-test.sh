#!/usr/bin/env bash
# `make compose-test`: the docker-compose cluster for real, end to end.
#
#   scripts/compose-test.sh                                     # FROM python:3.11-slim
#   BASE_IMAGE=localbase/python:3.11 scripts/compose-test.sh    # any Debian base with python3
#   COMPOSE_TLS=1 scripts/compose-test.sh                       # with docker-compose.tls.yml
#
#   - builds a wheelhouse of the project's dependencies on the host, so that the image builds
#     without a package index;
#   - builds the image;
#   - with COMPOSE_TLS=1, makes the CA and the certificates on the host (`daskpar certs`): the
#     CA's key stays there;
#   - starts the scheduler, two workers and JupyterLab (`up -d --scale worker=2`);
#   - waits for their healthchecks, and checks that client, scheduler and workers agree on
#     library versions;
#   - runs `daskpar make-data` and `daskpar train` in one-off client containers (over tls://
#     with COMPOSE_TLS=1);
#   - without TLS: runs notebooks/04-cluster-and-monitoring.ipynb against the cluster in a
#     client container, and kills a worker container in the middle of a fit, checking that the
#     fit finishes;
#   - with TLS: checks that a plaintext client is refused and that a client on the host
#     connects with the host's certificates, and runs a task on each worker that tries to read
#     every key file: only the worker's own may be readable there (and on the scheduler only
#     the scheduler's, in the client container only the client's);
#   - stops the cluster, whatever happened.
#
# It needs a Docker engine and `docker compose` or `docker-compose`. It runs as its own compose
# project with its own data folder, so a cluster of yours is left alone, but it publishes the
# same ports on 127.0.0.1 (8786, 8787, 8888; change them with DASKPAR_SCHEDULER_PORT,
# DASKPAR_DASHBOARD_PORT, DASKPAR_JUPYTER_PORT).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${VENV:-.venv}
notebook=04-cluster-and-monitoring.ipynb
tls=${COMPOSE_TLS:-0}
case $tls in
  0) scheme=tcp variant="" ;;
  1) scheme=tls variant=" (TLS)" ;;
  *)
    echo "compose-test: COMPOSE_TLS must be 0 or 1; got $tls" >&2
    exit 2
    ;;
esac
export BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-daskpar-compose-test${variant:+-tls}}
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
if ((tls)); then
  compose+=(-f docker-compose.yml -f docker-compose.tls.yml)
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
  step_no=$((step_no + 1))
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
  step "${compose[*]} down"
  "${compose[@]}" --profile client down --remove-orphans --timeout 20
  passed
  rm -rf "$work"
  echo
  if ((status)); then
    echo "compose-test$variant: FAILED (exit status $status) after $((SECONDS - started)) s"
  else
    echo "compose-test$variant: passed in $((SECONDS - started)) s"
  fi
  exit "$status"
}
trap cleanup EXIT

# Runs a command in a one-off client container (DASK_SCHEDULER_ADDRESS=$scheme://scheduler:8786).
client() {
  "${compose[@]}" run --rm -T client "$@" </dev/null
}

# The rows of the epoch table that `daskpar train` prints last.
epoch_rows() {
  awk '$1 == "epoch" {table = 1; next} table && $1 ~ /^[0-9]+$/' "$1"
}

step "wheelhouse: the project's dependencies as wheels, fetched on the host"
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

step "image $DASKPAR_IMAGE from $BASE_IMAGE"
"${compose[@]}" build scheduler
docker run --rm "$DASKPAR_IMAGE" python -c '
import sys, dask, distributed, sklearn, jupyterlab
from importlib.metadata import version
print("python", sys.version.split()[0], "daskpar", version("daskpar"), "dask", dask.__version__,
      "distributed", distributed.__version__, "scikit-learn", sklearn.__version__,
      "jupyterlab", jupyterlab.__version__)'
passed

if ((tls)); then
  step "the CA and the certificates, made on the host: the CA's key stays here"
  export DASKPAR_CERTS=$work/certs
  "$venv/bin/daskpar" certs "$DASKPAR_CERTS" --host scheduler --host 127.0.0.1 --config-dir /certs
  ls -l "$DASKPAR_CERTS"
  passed
fi

step "${compose[*]} up -d --scale worker=2"
"${compose[@]}" up -d --no-build --scale worker=2
passed

step "wait for the healthchecks; the same versions everywhere"
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

step "daskpar make-data and daskpar train in a client container, over $scheme://"
client sh -ec '
  daskpar make-data /data/blobs.zarr --rows 200000 --features 20 --chunk-rows 20000
  daskpar train /data/blobs.zarr --scheduler "$1://scheduler:8786" --epochs 3' sh "$scheme" \
  | tee "$work/train.txt"
grep -q "^cluster: 2 workers at $scheme://" "$work/train.txt" \
  || fail "train did not see 2 workers at a $scheme:// address"
[[ $(epoch_rows "$work/train.txt" | wc -l) == 3 ]] || fail "train printed no table of 3 epochs"
passed

if ((tls)); then
  step "a plaintext client is refused; a client on the host connects with its certificates"
  client python -c '
import dask
from distributed import Client, Security
with dask.config.set({"distributed.comm.require-encryption": False}):
    try:
        Client("tcp://scheduler:8786", security=Security(), timeout=10).close()
    except OSError as exc:  # the TLS listener does not answer a plaintext handshake
        print("plaintext client refused:", type(exc).__name__)
    else:
        raise SystemExit("a plaintext client connected to the TLS scheduler")'
  "$venv/bin/python" - "$DASKPAR_CERTS" <<'EOF_PY'
import sys
import warnings

from distributed import Client

from daskpar.tls import TLSFiles

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the host's library versions may differ from the image's
    security = TLSFiles(sys.argv[1]).security()
    with Client("tls://127.0.0.1:8786", security=security, timeout=30) as client:
        workers = client.scheduler_info()["workers"]
print(f"a client on the host, with {sys.argv[1]}/client.pem: {len(workers)} workers")
assert len(workers) == 2, workers
EOF_PY
  passed

  step "which key files a task can read: on each worker, on the scheduler, in a client"
  # What the red team did: a task reading /certs/ca-key.pem to sign itself a certificate.
  client python -c '
import os
import socket

import dask
from distributed import Client

KEYS = ["/certs/ca-key.pem", "/certs/scheduler-key.pem", "/certs/worker-key.pem",
        "/certs/client-key.pem"]


def read_keys(paths):
    """Each key file this process can read; the others with the reason it cannot."""
    seen = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                seen[path] = f"READABLE, {len(f.read())} bytes"
        except OSError as exc:
            seen[path] = type(exc).__name__
    tls = dask.config.get("distributed.comm.tls")
    named = sorted(v for role in ("scheduler", "worker", "client")
                   for v in (tls.get(role) or {}).values() if v)
    return socket.gethostname(), sorted(os.listdir("/certs")), seen, named


def check(where, role, answer):
    host, listing, seen, named = answer
    print(f"{where} ({host}): /certs holds {listing}; its Dask configuration names {named}")
    for path, what in seen.items():
        print(f"    {path}: {what}")
    readable = {path for path, what in seen.items() if what.startswith("READABLE")}
    own = f"/certs/{role}-key.pem"
    assert readable == {own}, f"{where} can read {sorted(readable)}; only {own} expected"
    mounted = ["ca.pem", f"{role}.pem", f"{role}-key.pem", f"dask-tls-{role}.yaml"]
    assert listing == sorted(mounted), listing
    assert named == sorted([f"/certs/{role}.pem", own]), named


with Client(timeout=60) as client:
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2, workers
    for i, worker in enumerate(workers):
        future = client.submit(read_keys, KEYS, key=f"read-keys-{i}", workers=[worker],
                               allow_other_workers=False, pure=False)
        check(f"a task on worker {worker}", "worker", future.result())
    check("the scheduler", "scheduler", client.run_on_scheduler(read_keys, KEYS))
check("the client container", "client", read_keys(KEYS))
print("each process can read its own key only, and none can read ca-key.pem")'
  passed
  exit 0 # the notebook and the killed worker are the plain variant's; the trap stops the cluster
fi

step "notebooks/$notebook against the cluster"
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

step "kill a worker container in the middle of a fit; the fit must finish"
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
