"""``save``, the method every daskpar estimator has: :func:`daskpar.save` of itself."""

from __future__ import annotations

import os
from typing import Any

from . import persist

__all__ = ["SaveMixin"]


class SaveMixin:
    """Adds ``save(path, **kwargs)``: the estimator in daskpar's safe, signed model format."""

    def save(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Save this estimator to ``path``; read it back with :func:`daskpar.load`.

        The file holds no pickle: :mod:`daskpar.persist` serializes it with skops and
        signs it with an HMAC-SHA256 when a key is given (``key=``, the environment variable
        ``DASKPAR_MODEL_KEY``, or the file named by ``DASKPAR_MODEL_KEY_FILE``).

        Parameters
        ----------
        path : str or path-like
            The model file to write (replaced atomically if it exists), or an fsspec URL
            (``s3://bucket/model.dp``), written in one upload.
        **kwargs
            ``key``, ``encrypt``, ``encryption_key``, ``audit``, ``storage_options`` (for a
            URL: credentials and endpoint, never written anywhere): see
            :func:`daskpar.save`.
        """
        persist.save(self, path, **kwargs)
