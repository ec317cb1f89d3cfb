"""`make demo`: server, ingest, text and image search, end to end, on real photographs.

Builds a slideshow from the public-domain photos shipped with scikit-image (known cut times),
starts a server on an embedded data dir, ingests the video with the CLI, runs a text and an
image search, prints the results, checks the web UI over the same server, stops the server, and
ends by saying how to browse the same data in the web UI.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "coins")
SECONDS_PER_PHOTO = 3.0
BIN = Path(sys.executable).parent


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def hub_reachable(host: str = "huggingface.co", timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def choose_model() -> str:
    if os.environ.get("SCENESEARCH_MODEL"):
        model = os.environ["SCENESEARCH_MODEL"]
        print(f"using SCENESEARCH_MODEL={model}")
        return model
    if hub_reachable():
        print("using openai/clip-vit-base-patch32 from the HuggingFace hub")
        return "openai/clip-vit-base-patch32"
    local = DEMO / "random-vit-b-32"
    print(
        "Real CLIP weights cannot be fetched on this machine (huggingface.co is unreachable).\n"
        f"The demo runs with a randomly initialised ViT-B/32 written to {local}:\n"
        "decoding, scene cuts, timings and image-to-scene search are real, but text rankings\n"
        "are meaningless. For real results: SCENESEARCH_MODEL=/path/to/clip make demo"
    )
    if not (local / "model.safetensors").exists():
        from tests.support.random_model import VIT_B_32, write_random_clip

        write_random_clip(local, VIT_B_32)
    return str(local)


def build_slideshow(media: Path) -> tuple[Path, list[str]]:
    from skimage import data

    from tests.support.synthetic import photo_slideshow, write_video

    photos = [getattr(data, name)() for name in PHOTOS]
    photos = [np.stack([p] * 3, axis=-1) if p.ndim == 2 else p[..., :3] for p in photos]
    video = write_video(
        media / "skimage_slideshow.mp4",
        [SECONDS_PER_PHOTO] * len(photos),
        fps=30.0,
        size=(640, 360),
        frame_fn=photo_slideshow(photos, 640, 360),
        audio=True,
    )
    cuts = ", ".join(f"{t:.1f}s" for t in video.scene_starts_s)
    print(f"wrote {video.path.name}: {len(photos)} photos ({', '.join(PHOTOS)}), cuts at {cuts}")
    queries = []
    for name in ("chelsea", "rocket"):
        query = media.parent / f"query_{name}.png"
        buf = io.BytesIO()
        Image.fromarray(photos[PHOTOS.index(name)]).resize((300, 200)).save(buf, "PNG")
        query.write_bytes(buf.getvalue())
        queries.append(str(query))
    return video.path, queries


def start_server(model: str, data: Path, media: Path) -> tuple[subprocess.Popen[str], str]:
    from tests.support.launch import spawn_server

    return spawn_server(
        [
            "--data-dir",
            str(data),
            "--media-root",
            str(media),
            "--address",
            "127.0.0.1:0",
            "--model",
            model,
        ],
        echo=lambda line: print("  server:", line) if line.strip() else None,
    )


def cli(address: str, *args: str) -> None:
    command = ["scenesearch", "--address", address, *args]
    print("$ " + " ".join(command), flush=True)
    subprocess.run([str(BIN / "scenesearch"), "--address", address, *args], check=True)


def web_check(address: str, query: str) -> None:
    """Serve the web UI over the demo's server for a moment and fetch what a browser would."""
    from scenesearch.client.web.app import create_app
    from scenesearch.client.web.cli import serve_in_thread
    from scenesearch.client.web.common import WebConfig
    from scenesearch.client.web.gateway import ServerTarget

    web = serve_in_thread(create_app(WebConfig(ServerTarget(address))))
    try:
        with urllib.request.urlopen(web.url + "search.json?q=a+cat&top_k=3", timeout=60) as r:
            hits = json.load(r)["results"]["hits"]
        print(f"{web.url} answers; text search 'a cat' over HTTP: {len(hits)} scenes")
        with urllib.request.urlopen(web.url + "library", timeout=60) as r:
            page = r.read().decode()
        print(f"library page: {page.count('<tr data-video=')} video(s) listed")
        first_kb = {"Range": "bytes=0-1023"}
        ranged = urllib.request.Request(web.url + "videos/1/file", headers=first_kb)
        with urllib.request.urlopen(ranged, timeout=60) as r:
            print(f"video bytes for the player: HTTP {r.status}, {r.headers['Content-Range']}")
    finally:
        web.stop()


def main() -> None:
    say("1. model")
    model = choose_model()
    media, data = DEMO / "media", DEMO / "data"
    shutil.rmtree(data, ignore_errors=True)
    media.mkdir(parents=True, exist_ok=True)
    say("2. sample video")
    video, (query, rocket) = build_slideshow(media)
    say("3. server")
    proc, address = start_server(model, data, media)
    try:
        say("4. ingest")
        cli(address, "ingest", str(video), "--progress")
        cli(address, "videos", "show", "1")
        say("5. text search")
        cli(address, "search", "a cat lying on a blanket", "--top-k", "3")
        say("6. image search (a photo of the cat; expect the scene at 00:00:06.000 first)")
        cli(address, "search", "--image", query, "--top-k", "3")
        say("7. classify: which photo is where (example images as prompts)")
        cli(
            address,
            "classify",
            "1",
            "--prompt-image",
            query,
            "--prompt-image",
            rocket,
            "--null-prompt",
            "something else",
            "--interval",
            "3",
        )
        say("8. timeline of the cat photo, plotted")
        plot = DEMO / "timeline.png"
        cli(
            address,
            "timeline",
            "1",
            "--prompt-image",
            query,
            "--smooth",
            "3",
            "--threshold",
            "0.9",
            "--plot",
            str(plot),
        )
        say("9. stats")
        cli(address, "stats")
        say("10. web UI over the same server (scenesearch web)")
        web_check(address, query)
    finally:
        say("11. stopping the server")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    data_dir, media_dir = data.relative_to(ROOT), media.relative_to(ROOT)
    print(
        "\ndemo finished. To browse these results in the web UI, run\n\n"
        f'    make serve SCENESEARCH_DATA_DIR={data_dir} SERVE_ARGS="--media-root {media_dir}"\n\n'
        "and open \033[1mhttp://127.0.0.1:8080/\033[0m in a browser (Ctrl-C stops it). Search by"
        f" text or drop {Path(query).relative_to(ROOT)} on the search page; a result's Play"
        " opens the video at its best moment."
    )


if __name__ == "__main__":
    main()
