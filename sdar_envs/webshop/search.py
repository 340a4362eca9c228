"""Product search for the shop: BM25 over product text through the shared retrieval layer.

Upstream searches a Lucene index of the products (``search_engine/``) and shows the top :data:`SEARCH_RETURN_N`
results. Here the index is :func:`sdar_envs.retrieval.build_index` over :func:`product_text` (title, description,
bullet points and option values), saved under the catalog directory (``<catalog>/index-<backend>``) so later loads
reuse it; the saved index records the catalog's fingerprint and is rebuilt when the catalog files change. Result lists
are cached per query string (an LRU of :data:`CACHE_SIZE` queries).
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdar_envs.webshop.catalog import product_text

__all__ = ["CACHE_SIZE", "SEARCH_RETURN_N", "ProductSearch"]

#: Results a search returns (upstream ``SEARCH_RETURN_N``): 5 pages of 10.
SEARCH_RETURN_N = 50
CACHE_SIZE = 4096


class ProductSearch:
    """Top-:data:`SEARCH_RETURN_N` product asins for a query (thread-safe; never raises on query text).

    Args:
        products: asin -> loaded product (``Catalog.products``).
        index_dir: where to save/reuse the index (``None``: build in memory only).
        backend: a backend name accepted by ``sdar_envs.retrieval.build_index`` (``"default"`` picks the pip-only one).
        fingerprint: the catalog's fingerprint (``Catalog.fingerprint``); a saved index of another one is rebuilt.
    """

    def __init__(
        self,
        products: Mapping[str, Mapping[str, Any]],
        *,
        index_dir: str | os.PathLike | None = None,
        backend="default",
        fingerprint: str = "",
    ) -> None:
        from sdar_envs import retrieval

        self.products = products
        self._lock = threading.Lock()
        index = None
        marker = Path(index_dir) / "n_docs.txt" if index_dir is not None else None
        stamp = f"{len(products)} {fingerprint}".strip()
        if marker is not None and marker.is_file() and marker.read_text().strip() == stamp:
            try:
                index = retrieval.load_index(index_dir)
            except Exception:  # a stale or partial index: rebuild it below
                index = None
        if index is None:
            index = retrieval.build_index(((asin, product_text(p)) for asin, p in products.items()), backend=backend)
            if index_dir is not None:
                tmp = Path(f"{index_dir}.tmp{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                try:
                    index.save(tmp)
                    (tmp / "n_docs.txt").write_text(stamp)
                    shutil.rmtree(index_dir, ignore_errors=True)
                    os.replace(tmp, index_dir)
                except OSError:  # another process saved it first (or the cache is read-only): keep ours in memory
                    shutil.rmtree(tmp, ignore_errors=True)
        self.index = index
        self.search = functools.lru_cache(maxsize=CACHE_SIZE)(self._search)

    def _search(self, keywords: str) -> tuple[str, ...]:
        if not keywords.strip():
            return ()
        with self._lock:
            hits = self.index.search(keywords, k=SEARCH_RETURN_N)
        return tuple(doc_id for doc_id, _ in hits if doc_id in self.products)
