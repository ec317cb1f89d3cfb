"""PNG plots of similarity timelines (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from scenesearch.client.results import Timeline


def plot_timeline(
    timeline: Timeline,
    path: Path,
    width_px: int = 1200,
    height_px: int = 600,
    threshold: float | None = None,
) -> Path:
    """Curves per prompt, scene boundaries as dotted lines, flagged segments shaded."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    dpi = 100
    fig, ax = plt.subplots(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    try:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for n, curve in enumerate(timeline.curves):
            colour = colours[n % len(colours)]
            # Each sample stands for the time up to the next one, so draw steps to the end.
            xs = [*timeline.times_s, timeline.duration_s]
            ys = [*curve.scores, curve.scores[-1]] if curve.scores else []
            ax.plot(
                xs[: len(ys)], ys, label=curve.label, color=colour, lw=1.5, drawstyle="steps-post"
            )
            for seg in curve.segments:
                ax.axvspan(seg.start_s, seg.end_s, color=colour, alpha=0.15, lw=0)
        for start in timeline.scene_starts_s[1:]:
            ax.axvline(start, color="grey", ls=":", lw=0.8)
        if threshold is not None:
            ax.axhline(
                threshold, color="black", ls="--", lw=0.8, label=f"threshold {threshold:.3f}"
            )
        ax.set_xlim(0, max(timeline.duration_s, 1e-3))
        ax.set_xlabel("time (s); dotted lines are scene cuts")
        ax.set_ylabel("cosine similarity")
        ax.set_title(f"video {timeline.video_id}: {Path(timeline.video_path).name}")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return path
