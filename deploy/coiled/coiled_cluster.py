"""A daskpar cluster on Coiled from the project's image.

Build the image (``docker compose build``, which tags it ``daskpar:latest``), push it to a
registry Coiled can pull from (Docker Hub, Amazon ECR or Google Artifact Registry), and run
this with a Coiled account::

    docker tag daskpar:latest ghcr.io/my-org/daskpar:latest
    docker push ghcr.io/my-org/daskpar:latest
    python coiled_cluster.py

Coiled starts the scheduler and the workers with the image's own Python and distributed, so
they run the image's daskpar; run the client from the same image (or an environment with the
same versions), as ``client.get_versions(check=True)`` then confirms.
"""

from __future__ import annotations

import coiled

#: The project's image as pushed: the compose file's daskpar:latest under a registry name.
IMAGE = "ghcr.io/my-org/daskpar:latest"

if __name__ == "__main__":
    cluster = coiled.Cluster(
        name="daskpar",
        container=IMAGE,
        n_workers=4,
        # One thread per worker process, as in the embedded and compose clusters, on the
        # smallest machines (2 vCPUs: the second for the worker's communication and
        # spilling); more workers for more cores.
        worker_options={"nthreads": 1},
        worker_cpu=2,
        # Stop paying for a cluster left idle.
        idle_timeout="30 minutes",
    )
    client = cluster.get_client()
    client.get_versions(check=True, packages=["daskpar", "sklearn"])
    print(client)
