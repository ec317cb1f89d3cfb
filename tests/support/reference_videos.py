"""Reference test videos for the decode/detect differential checks against PySceneDetect.

Every generator draws RGB frames with numpy and encodes them with PyAV (no ffmpeg binary is
installed). Colour handling is explicit: the RGB->YUV conversion uses the same matrix and range
that the stream is tagged with, so a decoder that honours the tags gets the intended picture.

Content families (each calibrated so that cuts sit NEAR the detectors' default thresholds):
  near_threshold  blocky palettes; scene k+1 = scene k nudged so ContentDetector's content_val
                  lands on a target in [12, 36] (straddles content 27 and adaptive's min 15)
  partial         only part of the picture changes; Y-histogram correlation near 0.20
  fades           fades to/from black, some dipping to a mean of only ~10-14 (threshold 12)
  dissolve        1 s cross-dissolves between palettes
  pan             slow pan over a smooth random image, with two hard cuts
Container variants: limited (yuv420p tv), full (yuvj420p / pc tag), bt709 tag, yuv444p, odd
size, rotated (display matrix), long GOP for corruption tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

Picture = npt.NDArray[np.uint8]


# ----------------------------------------------------------------------------- encoding


def encode(
    path: Path,
    frames: Iterator[Picture],
    size: tuple[int, int],
    *,
    fps: int = 30,
    pix_fmt: str = "yuv420p",
    full_range: bool = False,
    bt709: bool = False,
    rotation: int = 0,
    gop: int | None = None,
    crf: int = 18,
) -> Path:
    """Encode RGB frames with libx264; tag range/matrix and convert with the same ones."""
    width, height = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt
        opts = {"preset": "ultrafast", "crf": str(crf)}
        if gop:
            opts.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
        stream.options = opts
        cc = stream.codec_context
        cs = "ITU709" if bt709 else "ITU601"
        if full_range:
            cc.color_range = 2  # AVCOL_RANGE_JPEG
        if bt709:
            cc.colorspace = 1  # AVCOL_SPC_BT709
            cc.color_primaries = 1
            cc.color_trc = 1
        if rotation:
            stream.set_display_rotation(rotation)  # display-matrix side data in 'tkhd'
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            yuv = frame.reformat(
                format=pix_fmt,
                dst_colorspace=cs,
                dst_color_range=2 if full_range or pix_fmt.startswith("yuvj") else 1,
                interpolation="BICUBIC",
            )
            yuv.pts = i
            container.mux(stream.encode(yuv))
        container.mux(stream.encode(None))
    return path


# ----------------------------------------------------------------------------- pictures


def blocks(rng: np.random.Generator, rows: int = 6, cols: int = 8) -> npt.NDArray[np.float64]:
    return rng.integers(20, 236, size=(rows, cols, 3)).astype(np.float64)


def upscale(grid: npt.NDArray[np.float64], width: int, height: int) -> Picture:
    r = np.linspace(0, grid.shape[0] - 1e-3, height).astype(int)
    c = np.linspace(0, grid.shape[1] - 1e-3, width).astype(int)
    return np.clip(grid[r][:, c], 0, 255).astype(np.uint8)


def with_square(base: Picture, t: float) -> Picture:
    """A small grey square drifting across, so within-scene frames are not identical."""
    frame = base.copy()
    h, w = frame.shape[:2]
    side = max(2, min(h, w) // 12)
    x = int((t / 3.0 % 1.0) * max(w - side, 1))
    frame[(h - side) // 2 : (h - side) // 2 + side, x : x + side] = 200
    return frame


def content_val(a: Picture, b: Picture) -> float:
    """ContentDetector's default score between two RGB pictures (mean |dH|,|dS|,|dV|)."""
    ha = cv2.cvtColor(np.ascontiguousarray(a[..., ::-1]), cv2.COLOR_BGR2HSV).astype(np.int32)
    hb = cv2.cvtColor(np.ascontiguousarray(b[..., ::-1]), cv2.COLOR_BGR2HSV).astype(np.int32)
    return float(np.abs(ha - hb).mean())


def hist_corr(a: Picture, b: Picture) -> float:
    def h(x: Picture) -> npt.NDArray[np.float32]:
        y = cv2.cvtColor(np.ascontiguousarray(x[..., ::-1]), cv2.COLOR_BGR2YUV)[..., 0]
        return np.asarray(cv2.calcHist([y], [0], None, [128], [0, 256]), dtype=np.float32)

    return float(cv2.compareHist(h(a), h(b), cv2.HISTCMP_CORREL))


def _calibrate(
    make: Callable[[float], Picture],
    score: Callable[[Picture], float],
    target: float,
    lo: float = 0.0,
    hi: float = 1.0,
) -> Picture:
    """Bisect the nudge strength so `score(make(s))` hits `target` (score rises with s)."""
    for _ in range(22):
        mid = (lo + hi) / 2
        if score(make(mid)) < target:
            lo = mid
        else:
            hi = mid
    return make((lo + hi) / 2)


def near_threshold_scenes(width: int, height: int, seed: int = 0, n: int = 14) -> list[Picture]:
    """Palettes whose successive content_val hits targets around 15 and 27."""
    rng = np.random.default_rng(seed)
    targets = rng.permutation(np.r_[np.linspace(12, 18, n // 2), np.linspace(23, 33, n - n // 2)])
    grid = blocks(rng)
    pics = [upscale(grid, width, height)]
    for target in targets:
        direction = rng.normal(0, 1, grid.shape)
        prev_grid, prev_pic = grid, pics[-1]

        def make(
            s: float, g: npt.NDArray[np.float64] = prev_grid, d: npt.NDArray[np.float64] = direction
        ) -> Picture:
            return upscale(g + s * 120 * d, width, height)

        def score(p: Picture, q: Picture = prev_pic) -> float:
            return content_val(q, p)

        pic = _calibrate(make, score, float(target))
        pics.append(pic)
        grid = pic[np.linspace(0, height - 1, 6).astype(int)][
            :, np.linspace(0, width - 1, 8).astype(int)
        ].astype(np.float64)
    return pics


def partial_scenes(width: int, height: int, seed: int = 1, n: int = 10) -> list[Picture]:
    """Each scene replaces part of the picture; Y-histogram correlation near 0.2."""
    rng = np.random.default_rng(seed)
    targets = rng.permutation(np.linspace(0.12, 0.30, n))
    pics = [upscale(blocks(rng, 12, 16), width, height)]
    for target in targets:
        other = upscale(blocks(rng, 12, 16), width, height)
        prev = pics[-1]

        def make(s: float, a: Picture = prev, b: Picture = other) -> Picture:
            out = a.copy()
            out[:, : round(s * width)] = b[:, : round(s * width)]
            return out

        def anti_corr(p: Picture, q: Picture = prev) -> float:
            return -hist_corr(q, p)

        pics.append(_calibrate(make, anti_corr, -float(target)))
    return pics


def scenes_video(pics: list[Picture], seconds: float, fps: int) -> Iterator[Picture]:
    per = round(seconds * fps)
    for pic in pics:
        for k in range(per):
            yield with_square(pic, k / fps)


def fades_video(width: int, height: int, fps: int = 30, seed: int = 2) -> Iterator[Picture]:
    """Scenes joined by fades through (near) black; some dips bottom out just around 12."""
    rng = np.random.default_rng(seed)
    floors = [0.0, 10.0, 11.5, 12.5, 14.0, 0.0, 11.0, 13.0]
    for floor in floors:
        pic = upscale(blocks(rng), width, height).astype(np.float64)
        mean = pic.mean()
        hold, ramp = int(0.8 * fps), int(rng.integers(8, 40))
        gains = np.r_[
            np.linspace(floor / mean, 1, ramp), np.ones(hold), np.linspace(1, floor / mean, ramp)
        ]
        for g in gains:
            yield np.clip(pic * g, 0, 255).astype(np.uint8)


def dissolve_video(width: int, height: int, fps: int = 30, seed: int = 3) -> Iterator[Picture]:
    rng = np.random.default_rng(seed)
    pics = [upscale(blocks(rng), width, height).astype(np.float64) for _ in range(5)]
    for a, b in itertools.pairwise(pics):
        for k in range(fps):
            yield with_square(a.astype(np.uint8), k / fps)
        for k in range(fps):  # 1 s cross-dissolve
            w = (k + 1) / (fps + 1)
            yield ((1 - w) * a + w * b).astype(np.uint8)
    yield from (with_square(pics[-1].astype(np.uint8), k / fps) for k in range(fps))


def pan_video(width: int, height: int, fps: int = 30, seed: int = 4) -> Iterator[Picture]:
    """Slow pan over a smooth random world, with hard cuts to another world twice."""
    rng = np.random.default_rng(seed)
    for _ in range(3):
        world = cv2.resize(
            rng.integers(0, 256, (12, 24, 3), dtype=np.uint8),
            (width * 2, height),
            interpolation=cv2.INTER_CUBIC,
        )
        for k in range(int(1.5 * fps)):
            x = int(k * 3)  # 3 px per frame
            yield np.asarray(world[:, x : x + width], dtype=np.uint8)


def rotated_video(
    path: Path, rotation: int = 90, size: tuple[int, int] = (320, 180), n: int = 4
) -> Path:
    """Landscape-coded video carrying a display matrix (PyAV Stream.set_display_rotation
    writes AV_PKT_DATA_DISPLAYMATRIX into codecpar.coded_side_data -> the MP4 'tkhd' matrix;
    a 'rotate' metadata tag is NOT enough since FFmpeg 6). Decoders report it per frame."""
    w, h = size
    pics = near_threshold_scenes(w, h, seed=5, n=n)
    for p in pics:  # a red block at the coded top-left so orientation is visible
        p[: h // 4, : w // 8] = (255, 0, 0)
    return encode(path, scenes_video(pics, 0.7, 30), size, rotation=rotation)


def long_clean_video(
    path: Path,
    seconds: float = 24.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 30,
    gop_s: float = 3.0,
) -> Path:
    """Palettes that change every 2 s with motion, GOP of `gop_s` seconds."""
    w, h = size
    rng = np.random.default_rng(6)
    pics = [upscale(blocks(rng), w, h) for _ in range(int(seconds / 2))]
    return encode(path, scenes_video(pics, 2.0, fps), size, fps=fps, gop=int(gop_s * fps), crf=23)


def corrupt_middle(
    src: Path, dst: Path, at: float = 1 / 3, nbytes: int = 2000, seed: int = 7
) -> Path:
    """Copy `src` flipping `nbytes` bytes (XOR 0xFF-ish) a fraction `at` into the file."""
    data = bytearray(src.read_bytes())
    start = int(len(data) * at)
    rng = np.random.default_rng(seed)
    noise = rng.integers(1, 256, nbytes, dtype=np.uint8).tobytes()
    for i in range(nbytes):
        data[start + i] ^= noise[i]
    dst.write_bytes(bytes(data))
    return dst


def truncate(src: Path, dst: Path, keep: float = 0.6) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


# ----------------------------------------------------------------------------- catalogue


def build_all(out: Path) -> dict[str, Path]:
    """The differential test set; each video is 5-25 s of small frames."""
    out.mkdir(parents=True, exist_ok=True)
    v: dict[str, Path] = {}
    w, h = 320, 240
    near = near_threshold_scenes(w, h)
    v["near_lim"] = encode(out / "near_lim.mp4", scenes_video(near, 0.7, 30), (w, h))
    v["near_full_j"] = encode(
        out / "near_full_j.mp4", scenes_video(near, 0.7, 30), (w, h), pix_fmt="yuvj420p"
    )
    v["near_full_tag"] = encode(
        out / "near_full_tag.mp4", scenes_video(near, 0.7, 30), (w, h), full_range=True
    )
    v["near_709"] = encode(out / "near_709.mp4", scenes_video(near, 0.7, 30), (w, h), bt709=True)
    v["near_444"] = encode(
        out / "near_444.mp4", scenes_video(near, 0.7, 30), (w, h), pix_fmt="yuv444p"
    )
    ow, oh = 321, 243
    v["near_odd_444"] = encode(
        out / "near_odd_444.mp4",
        scenes_video(near_threshold_scenes(ow, oh), 0.7, 30),
        (ow, oh),
        pix_fmt="yuv444p",
    )
    v["partial"] = encode(out / "partial.mp4", scenes_video(partial_scenes(w, h), 0.7, 30), (w, h))
    v["fades"] = encode(out / "fades.mp4", fades_video(w, h), (w, h))
    v["fades_full"] = encode(out / "fades_full.mp4", fades_video(w, h), (w, h), pix_fmt="yuvj420p")
    v["dissolve"] = encode(out / "dissolve.mp4", dissolve_video(w, h), (w, h))
    v["pan"] = encode(out / "pan.mp4", pan_video(w, h), (w, h))
    bw, bh = 1280, 720
    v["near_720p"] = encode(
        out / "near_720p.mp4", scenes_video(near_threshold_scenes(bw, bh, n=8), 0.6, 30), (bw, bh)
    )
    v["rot90"] = rotated_video(out / "rot90.mp4", 90)
    v["rot-90"] = rotated_video(out / "rot-90.mp4", -90)
    v["rot180"] = rotated_video(out / "rot180.mp4", 180)
    v["rot90_720p"] = rotated_video(out / "rot90_720p.mp4", 90, (1280, 720), n=6)
    v["near_1080p"] = encode(
        out / "near_1080p.mp4",
        scenes_video(near_threshold_scenes(1920, 1080, n=6), 0.5, 30),
        (1920, 1080),
    )
    v["near_10bit"] = encode(
        out / "near_10bit.mp4", scenes_video(near, 0.7, 30), (w, h), pix_fmt="yuv420p10le"
    )
    v["near_422"] = encode(
        out / "near_422.mp4", scenes_video(near, 0.7, 30), (w, h), pix_fmt="yuv422p"
    )
    v["long24"] = long_clean_video(out / "long24.mp4")
    return v


def textured_video(
    path: Path, size: tuple[int, int], seconds: float = 3.0, fps: int = 30, seed: int = 8
) -> Path:
    """Camera-like content for timing: noisy detailed texture, panning, one cut per second,
    encoded with x264 'medium' (CABAC, B-frames, deblocking) so decoding costs what real
    footage costs; the 'ultrafast' test videos decode unrealistically fast."""
    w, h = size
    rng = np.random.default_rng(seed)
    worlds = []
    for _ in range(int(seconds) + 1):
        coarse = cv2.resize(
            rng.integers(0, 256, (h // 16, w // 8, 3), dtype=np.uint8),
            (w * 2, h),
            interpolation=cv2.INTER_CUBIC,
        ).astype(np.int16)
        worlds.append(coarse)

    def frames() -> Iterator[Picture]:
        for k in range(int(seconds * fps)):
            world = worlds[k // fps]
            x = (k % fps) * max(1, w // 60)
            noise = rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
            yield np.clip(world[:, x : x + w] + noise, 0, 255).astype(np.uint8)

    width, height = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "medium", "crf": "23"}
        for i, rgb in enumerate(frames()):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
