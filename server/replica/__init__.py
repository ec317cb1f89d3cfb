"""Stateless search replicas: `serve --backend milvus --milvus-uri URI --replica-of PRIMARY`.

One writer (the primary: ingest, deletes, concepts, rebuilds, re-embeds, its SQLite catalog)
and any number of replicas on other machines over the same Milvus. A replica answers Search,
TemporalSearch, Classify, Timeline, GetVideo/ListVideos/GetStats, concepts (read), thumbnails,
ReadVideo and ExportClip (with the media mounted at the same paths); everything else is
refused with FAILED_PRECONDITION naming the primary (methods.py).

  primary.py      the replica's gRPC view of its primary
  mirror_store.py the catalog mirror in the replica's scratch data dir (no frame rows)
  mirror.py       one sync: library_version changed -> copy new videos, drop gone ones;
                  concepts; the index follows the primary's kind
  syncer.py       the background loop (--replica-sync-s), staleness and failure policy
  thumbnails.py   the primary's thumbnails, kept; made from the media file as a fallback
  wiring.py       checks of the primary and the parts app.start_replica serves
"""
