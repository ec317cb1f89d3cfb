"""The web tier: an ASGI app over the typed gRPC client (pages, media, uploads, analytics).

Kept import-light: the CLI imports `scenesearch.client.web.cli` on every run, and only
`scenesearch web` loads Starlette and uvicorn.
"""
