#!/usr/bin/env bash
# `make compose-test`: the docker-compose cluster for real, end to end.
#
#   scripts/compose-test.sh                                     # FROM python:3.11-slim
#   BASE_IMAGE=localbase/python:3.11 scripts/compose-test.sh    # any Debian base with python3
#   COMPOSE_TLS=1 scripts/compose-test.sh                       # with docker-compose.tls.yml
#   COMPOSE_S3=1 scripts/compose-test.sh                        # with docker-compose.s3.yml
#
#   - builds a wheelhouse of the project's dependencies on the host, so that the image builds
#     without a package index;
#   - builds the image (with COMPOSE_S3=1, with s3fs and moto's S3 server in it);
#   - with COMPOSE_TLS=1, makes the CA and the certificates on the host (`daskpar certs`): the
#     CA's key stays there;
#   - starts the scheduler, two workers and JupyterLab (`up -d --scale worker=2`); with
#     COMPOSE_S3=1, the S3 test server, the scheduler and two workers;
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
#   - with S3: makes a bucket; checks that no container mounts a host folder, and that a
#     task on a worker finds none of the client's files; writes the data, trains with a
#     checkpoint, saves the model and predicts, every path an s3:// URL, from client
#     containers; checks what is in the bucket, and that nothing was written on the host;
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
s3=${COMPOSE_S3:-0}
for setting in "COMPOSE_TLS=$tls" "COMPOSE_S3=$s3"; do
  if [[ ${setting#*=} != [01] ]]; then
    echo "compose-test: ${setting%%=*} must be 0 or 1; got ${setting#*=}" >&2
    exit 2
  fi
done
if ((tls && s3)); then
  echo "compose-test: COMPOSE_TLS=1 and COMPOSE_S3=1 are two variants: run them one at a time" >&2
  exit 2
fi
scheme=tcp variant="" suffix=""
if ((tls)); then
  scheme=tls variant=" (TLS)" suffix=-tls
elif ((s3)); then
  variant=" (S3)" suffix=-s3
fi
export BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-daskpar-compose-test$suffix}
# The S3 variant's image has more packages in it: a name of its own.
image_suffix=""
((s3)) && image_suffix=-s3
export DASKPAR_IMAGE=${DASKPAR_IMAGE:-daskpar:compose-test$image_suffix}
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
elif ((s3)); then
  compose+=(-f docker-compose.yml -f docker-compose.s3.yml)
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
# daskpar's dependencies with the notebook extra (and the extras it names), from pyproject.toml;
# with S3, the PACKAGES that docker-compose.s3.yml's build adds.
mapfile -t requirements < <("$venv/bin/python" - "$s3" <<'EOF_PY'
import re
import sys
import tomllib

import yaml

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
if sys.argv[1] == "1":
    with open("docker-compose.s3.yml") as f:
        out += yaml.safe_load(f)["x-build"]["args"]["PACKAGES"].split()
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
# The packages whose versions client, scheduler and workers must agree on, besides Dask's own.
versioned=(sklearn daskpar)
also_installed=()
if ((s3)); then
  versioned+=(s3fs botocore)
  also_installed=(s3fs botocore moto)
fi
docker run --rm "$DASKPAR_IMAGE" python -c '
import sys, dask, distributed, sklearn, jupyterlab
from importlib.metadata import version
print("python", sys.version.split()[0], "daskpar", version("daskpar"), "dask", dask.__version__,
      "distributed", distributed.__version__, "scikit-learn", sklearn.__version__,
      "jupyterlab", jupyterlab.__version__,
      *(f"{p} {version(p)}" for p in sys.argv[1:]))' "${also_installed[@]}"
passed

if ((tls)); then
  step "the CA and the certificates, made on the host: the CA's key stays here"
  export DASKPAR_CERTS=$work/certs
  "$venv/bin/daskpar" certs "$DASKPAR_CERTS" --host scheduler --host 127.0.0.1 --config-dir /certs
  ls -l "$DASKPAR_CERTS"
  passed
fi

# With S3: the S3 server in place of JupyterLab, which this variant does not use.
services=()
((s3)) && services=(s3 scheduler worker)
step "${compose[*]} up -d --scale worker=2 ${services[*]}"
"${compose[@]}" up -d --no-build --scale worker=2 "${services[@]}"
passed

step "wait for the healthchecks; the same versions everywhere"
deadline=$((SECONDS + 300))
while :; do
  mapfile -t ids < <("${compose[@]}" ps -q)
  health=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}' "${ids[@]}" 2>&1 || true)
  # The scheduler, two workers and JupyterLab (or the S3 server).
  if ((${#ids[@]} == 4)) && [[ $(grep -c ' healthy$' <<<"$health") == 4 ]]; then
    break
  fi
  ((SECONDS < deadline)) || fail "not healthy after 300 s:"$'\n'"$health"
  sleep 2
done
echo "$health"
client python -c '
import sys
import warnings
from distributed import Client
with warnings.catch_warnings():
    warnings.simplefilter("error")  # distributed warns of a version mismatch
    with Client(timeout=60) as client:  # at DASK_SCHEDULER_ADDRESS
        client.wait_for_workers(2, timeout=60)
        versions = client.get_versions(check=True, packages=sys.argv[1:])
print(len(versions["workers"]), "workers, a scheduler and a client with the same versions of",
      "Dask and", ", ".join(sys.argv[1:]))' "${versioned[@]}"
passed

if ((s3)); then
  bucket=daskpar-compose-test
  url=s3://$bucket

  step "a bucket on the s3 service; no folder shared: a worker finds none of the client's files"
  # No container of the cluster has a folder of the host mounted.
  for id in $("${compose[@]}" ps -q); do
    mounted=$(docker inspect -f '{{.Name}}:{{range .Mounts}} {{.Type}} at {{.Destination}};{{end}}' "$id")
    echo "$mounted"
    [[ $mounted != *" bind at "* && $mounted != *" volume at "* ]] \
      || fail "a container has a folder of the host or a volume mounted: $mounted"
  done
  client python -c '
import os
import socket
import sys

import s3fs
from distributed import Client

s3fs.S3FileSystem().mkdir(sys.argv[1])
print("made the bucket", sys.argv[1], "at", os.environ["AWS_ENDPOINT_URL"])
with open("/data/written-by-the-client.txt", "w") as f:
    f.write("in the client container only\n")


def data_folder():
    """What /data holds where this runs, and the type of its file system."""
    with open("/proc/self/mounts") as f:
        kinds = [line.split()[2] for line in f if line.split()[1] == "/data"]
    return socket.gethostname(), sorted(os.listdir("/data")), kinds


def check(where, answer, expected):
    host, listing, kinds = answer
    print(f"{where} ({host}): /data holds {listing}, a file system of type {kinds}")
    assert listing == expected, f"{where}: /data holds {listing}; {expected} expected"
    assert kinds == ["tmpfs"], f"{where}: /data is {kinds}, not a tmpfs of its own"


with Client(timeout=60) as client:
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2, workers
    for i, worker in enumerate(workers):
        future = client.submit(data_folder, key=f"data-folder-{i}", workers=[worker],
                               allow_other_workers=False, pure=False)
        check(f"a task on worker {worker}", future.result(), [])
check("the client container", data_folder(), ["written-by-the-client.txt"])
print("the workers see none of the files of the client: data travels through the bucket")' \
    "$bucket"
  passed

  step "make-data, train with a checkpoint, save, predict: every path an s3:// URL"
  # In one-off client containers, which share no folder with the cluster: the data, the
  # checkpoint, the model file and the predictions all go through the bucket.
  client sh -ec '
    url=$1
    daskpar make-data "$url/blobs.zarr" --rows 200000 --features 20 --chunk-rows 20000
    daskpar train "$url/blobs.zarr" --scheduler tcp://scheduler:8786 --epochs 3 \
      --checkpoint "$url/checkpoint" --save "$url/model.dp"
    daskpar predict "$url/model.dp" "$url/blobs.zarr" --scheduler tcp://scheduler:8786 \
      --out "$url/predictions.zarr" --allow-unsigned' \
    sh "$url" | tee "$work/s3.txt"
  [[ $(grep -c '^cluster: 2 workers at tcp://' "$work/s3.txt") -ge 2 ]] \
    || fail "train and predict did not both see 2 workers at a tcp:// address"
  [[ $(epoch_rows "$work/s3.txt" | wc -l) == 3 ]] || fail "train printed no table of 3 epochs"
  grep -q "^saved the model to $url/model.dp: unsigned" "$work/s3.txt" \
    || fail "train did not save the model to $url/model.dp"
  grep -q "^loaded Pipeline from $url/model.dp" "$work/s3.txt" \
    || fail "predict did not load the model from $url/model.dp"
  grep -q "^wrote 200,000 predictions to $url/predictions.zarr" "$work/s3.txt" \
    || fail "predict did not write 200,000 predictions to $url/predictions.zarr"
  passed

  step "what is in the bucket: the data, the checkpoint, the model and the predictions"
  client python -c '
import sys

import numpy as np
import s3fs
import zarr

url = sys.argv[1]
fs = s3fs.S3FileSystem()
tops = sorted(fs.ls(url))
for top in tops:
    found = fs.find(top, detail=True)
    size = sum(info["size"] for info in found.values())
    print(f"s3://{top}: {len(found)} objects, {size:,} bytes")
names = [top.rsplit("/", 1)[-1] for top in tops]
assert names == ["blobs.zarr", "checkpoint", "model.dp", "predictions.zarr"], names
assert fs.find(f"{url}/checkpoint"), "the checkpoint folder is empty"
assert fs.size(f"{url}/model.dp") > 0, "the model file is empty"
predictions = zarr.open_group(f"{url}/predictions.zarr", mode="r")["predictions"][:]
y = zarr.open_group(f"{url}/blobs.zarr", mode="r")["y"][:]
assert predictions.shape == y.shape == (200_000,), (predictions.shape, y.shape)
assert set(np.unique(predictions).tolist()) <= {0, 1}, np.unique(predictions)
accuracy = float(np.mean(predictions == y))
print(f"{len(predictions):,} predictions of the classes {sorted(set(y.tolist()))}:",
      f"{accuracy:.3f} of them right")
# The classes are balanced: guessing gets half right.
assert accuracy > 0.6, accuracy' "$url"
  [[ -z $(find "$DASKPAR_DATA" -mindepth 1 -print -quit) ]] \
    || fail "something was written to the host's data folder $DASKPAR_DATA"
  echo "the host's data folder $DASKPAR_DATA is still empty"
  passed
  exit 0 # the notebook and the killed worker are the plain variant's; the trap stops the cluster
fi

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
