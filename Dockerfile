# One image for the scheduler, the workers, JupyterLab and one-off clients of docker-compose.yml,
# so that every process of the cluster runs the same library versions.
#
#   docker build -t daskpar .
#   docker build -t daskpar --build-arg BASE_IMAGE=debian-with-python3 .
#
# The project is installed in a virtual environment, so any Debian-like base with python3 and
# its venv module works, not only the official Python images. When wheelhouse/ in the build
# context holds wheels (`pip wheel -w wheelhouse '.[notebook]' 'setuptools>=68'` on a machine
# that can reach a package index), everything is installed from it alone, with no index: for
# machines whose containers cannot reach one. PACKAGES names more requirements to install
# with the project (docker-compose.s3.yml's s3fs and moto's S3 server). docs/compose.md has the
# details.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Extras of pyproject.toml: "notebook" brings JupyterLab, plotting, the dashboard and the readers.
ARG EXTRAS=notebook
# A folder of the build context; used when it holds wheels (set it empty to use the index).
ARG WHEELHOUSE=wheelhouse
# More requirements, separated by spaces (such as "s3fs>=2026.9.0"): none by default.
ARG PACKAGES=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
# .dockerignore lets in only pyproject.toml, README.md, daskpar/ and wheelhouse/.
COPY . /src
# The wheelhouse's options, if any, as "$@"; set -f: PACKAGES is split at spaces, but a
# requirement such as "moto[server]" is no file pattern.
RUN set -eu; \
    if [ -n "$WHEELHOUSE" ] && ls "/src/$WHEELHOUSE"/*.whl >/dev/null 2>&1; then \
        echo "installing from the wheelhouse only (no package index)"; \
        set -- --no-index --find-links "/src/$WHEELHOUSE"; \
    fi; \
    set -f; \
    /opt/venv/bin/pip install "$@" "/src[$EXTRAS]" $PACKAGES; \
    /opt/venv/bin/pip check

FROM ${BASE_IMAGE}
# PATH in full: an image made by `docker import` has none to extend.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    HOME=/home/daskpar
COPY --from=build /opt/venv /opt/venv
# HOME and the mount points are writable by any user id: docker-compose.yml's DASKPAR_USER.
RUN mkdir -p /home/daskpar /data /notebooks && chmod 1777 /home/daskpar /data /notebooks
WORKDIR /data
CMD ["daskpar", "--help"]
