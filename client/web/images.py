"""Query images held by the web tier, so an image search gets a linkable URL.

A picked, dropped or pasted image is posted once; the page then redirects to
`/?image=KEY`, where KEY is the start of the image's SHA-256. The back button and a shared
link work for as long as the image stays in this bounded cache.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict

KEY = re.compile(r"^[0-9a-f]{32}$")


class ImageCache:
    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_items: int = 256) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()[:32]
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return key
            self._items[key] = data
            self._size += len(data)
            while self._items and (
                self._size > self.max_bytes or len(self._items) > self.max_items
            ):
                _, old = self._items.popitem(last=False)
                self._size -= len(old)
        return key

    def get(self, key: str) -> bytes | None:
        if not KEY.match(key):
            return None
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data
