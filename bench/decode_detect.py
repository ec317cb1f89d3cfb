"""Decode + detect cost: the current decoder against an earlier revision's, side by side.

Counts CPU instructions with valgrind's callgrind (deterministic whatever else the machine is
doing), for decode + detection picture + ContentDetector per frame, with interpreter start-up
and each decoder's own import measured alone and subtracted (with PYTHONDONTWRITEBYTECODE set,
an import compiles the module from source, which no ingest pays per video). OpenBLAS runs
single-threaded: its idle worker threads spin for as long as the clock lets them, which varied
the counts by up to 0.4M instructions a frame from run to run though neither decoder uses BLAS.
Without valgrind it times both, interleaved.

Usage: python -m bench.decode_detect --against REV [--out bench/results/decode_detect.md]
(REV: a git revision whose server/ingest/pipeline/decode.py is the baseline, e.g. the commit
before the exact PySceneDetect pictures.)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import av
from scenedetect import ContentDetector, FrameTimecode

from bench.results_file import publish
from tests.support import reference_videos as rv

RUN = """
import sys
sys.path.insert(0, {root!r})
from bench.decode_detect import load, run_once
from pathlib import Path
module = load(sys.argv[1]) if sys.argv[1] != "none" else None
if module is not None and sys.argv[2]:
    run_once(module, Path(sys.argv[2]))
"""


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"decode_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_once(module: ModuleType, path: Path) -> int:
    with module.VideoDecoder(path) as decoder:
        info = decoder.open()
        detector, frames = ContentDetector(), 0
        for frame in decoder.frames():
            detector.process_frame(
                FrameTimecode(frame.index, fps=info.average_fps), frame.detect_bgr
            )
            frames += 1
    return frames


def instructions(script: Path, *args: str) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(script),
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    ).stderr
    return max(int(m.replace(",", "")) for m in re.findall(r"I\s+refs:\s+([\d,]+)", out))


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="git revision of the baseline")
    parser.add_argument("--out", type=Path, default=Path("bench/results/decode_detect.md"))
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="decode-bench-"))
    baseline = work / "decode_baseline.py"
    baseline.write_text(
        subprocess.run(
            ["git", "show", f"{args.against}:server/ingest/pipeline/decode.py"],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
        ).stdout
    )
    current = root / "server/ingest/pipeline/decode.py"
    videos = {
        "camera-like 720p (x264 medium)": rv.textured_video(work / "tex720.mp4", (1280, 720), 2.0),
        "camera-like 1080p (x264 medium)": rv.textured_video(
            work / "tex1080.mp4", (1920, 1080), 2.0
        ),
        "flat palettes 720p (x264 ultrafast)": rv.encode(
            work / "flat720.mp4",
            rv.scenes_video(rv.near_threshold_scenes(1280, 720, n=4), 0.5, 30),
            (1280, 720),
        ),
        "flat palettes 320x240": rv.encode(
            work / "flat240.mp4",
            rv.scenes_video(rv.near_threshold_scenes(320, 240), 0.5, 30),
            (320, 240),
        ),
    }
    script = work / "one.py"
    script.write_text(RUN.format(root=str(root)))
    rows = []
    if shutil.which("valgrind"):
        unit = "M instructions / frame"
        old_base, new_base = (instructions(script, str(m), "") for m in (baseline, current))
        for name, path in videos.items():
            n = frame_count(path)
            old = (instructions(script, str(baseline), str(path)) - old_base) / n / 1e6
            new = (instructions(script, str(current), str(path)) - new_base) / n / 1e6
            rows.append((name, n, old, new))
    else:
        unit = "ms / frame (median of 5, interleaved)"
        modules = {"old": load(str(baseline)), "new": load(str(current))}
        for name, path in videos.items():
            runs: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(5):
                for key, module in modules.items():
                    t0 = time.perf_counter()
                    n = run_once(module, path)
                    runs[key].append((time.perf_counter() - t0) / n * 1e3)
            rows.append((name, n, statistics.median(runs["old"]), statistics.median(runs["new"])))
    lines = [
        "# Decode + detect: exact PySceneDetect pictures vs the previous decoder",
        "",
        f"Decode + detection picture + ContentDetector, per frame, {unit} (interpreter "
        "start-up and each decoder's import subtracted; OpenBLAS single-threaded). Baseline: "
        f"`{args.against}`. Machine: {platform.machine()}, {platform.processor() or 'cpu'}. "
        f"Command: `python -m bench.decode_detect --against {args.against}`.",
        "",
        "| video | frames | baseline | now | change |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, n, old, new in rows:
        lines.append(f"| {name} | {n} | {old:.2f} | {new:.2f} | {(new / old - 1) * 100:+.1f}% |")
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
