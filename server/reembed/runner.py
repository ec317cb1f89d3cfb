"""One move in progress: a thread that re-embeds every video of the active generation into
the target generation, one at a time, then asks the swap to finish.

Each video: find its source (the file under a media root, or the kept upload), check its
content hash (a changed file is not the video that was ingested), send a ReembedTask to an
ingest worker running the NEW model, and commit the result with its 'done' mark. A source
that is gone, changed or undecodable makes the video "unavailable": kept or dropped as the
move's `missing` policy says, and listed either way.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from scenesearch.server.domain import Video
from scenesearch.server.errors import NotFound
from scenesearch.server.ingest.jobs import file_sha256
from scenesearch.server.ingest.protocol import JobFailed, JobFinished, JobProgressed
from scenesearch.server.ingest.worker import IngestWorker, WorkerCrashed
from scenesearch.server.reembed.active import ActiveGeneration
from scenesearch.server.reembed.commit import (
    commit_video,
    copy_thumbnails,
    remove_videos,
    settle_unavailable,
)
from scenesearch.server.reembed.frames import task_for
from scenesearch.server.reembed.parts import Bulletin, GenerationParts
from scenesearch.server.reembed.state import Missing, MoveState, MoveTable, VideoEntry, VideoState
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.video_files import UPLOAD_PREFIX

log = logging.getLogger(__name__)

# The swap: True once the target generation is active, False when there is more to do.
TrySwap = Callable[["Move"], bool]


class Move:
    def __init__(
        self,
        active: ActiveGeneration[GenerationParts],
        table: MoveTable,
        target: Store,
        worker: IngestWorker,
        try_swap: TrySwap,
        stall_timeout_s: float,
    ) -> None:
        self._active, self.table, self.target = active, table, target
        self._worker, self._try_swap = worker, try_swap
        self._stall_timeout_s = stall_timeout_s
        self._cancel = threading.Event()
        self._halt = threading.Event()  # cancelled, or the server stops (the move resumes)
        status = table.status()
        assert status is not None, "a move is created after its table"
        self.info = status.info
        self.bulletin = Bulletin(status)
        self._thread = threading.Thread(target=self._run, name="reembed", daemon=True)
        self.ended = threading.Event()
        self._handed_over = False
        self.on_end: Callable[[Move], None] | None = None

    @property
    def running(self) -> bool:
        return not self.ended.is_set()

    @property
    def worker(self) -> IngestWorker:
        return self._worker

    def hand_over_worker(self) -> None:
        """The worker (its model loaded) goes on as the new generation's ingest worker."""
        self._handed_over = True

    def start(self) -> Move:
        self._thread.start()
        return self

    def cancel(self, wait_s: float = 60.0) -> None:
        self._cancel.set()
        self.stop(wait_s)

    def stop(self, wait_s: float = 60.0) -> None:
        """End the thread after the video in flight; the state stays as it is on disk."""
        self._halt.set()
        self._worker.shutdown()  # a decode in flight ends now; that video is done again later
        self._thread.join(wait_s)

    def _publish(self, current: VideoEntry | None = None, final: bool = False) -> None:
        status = self.table.status(current)
        if status is not None:
            self.bulletin.publish(status, final)

    def _run(self) -> None:
        try:
            self._worker.start()  # waits until the worker has loaded the new model
            while not self._halt.is_set():
                self.sync_plan()
                for entry in self.table.entries(VideoState.PENDING):
                    if self._halt.is_set():
                        break
                    self._move_one(entry)
                if self._halt.is_set() or self._try_swap(self):
                    break
                time.sleep(0.2)  # writes meanwhile: plan them, then try again
        except Exception as exc:  # the server stays up; the move resumes at the next start
            if not self._halt.is_set():  # else: the worker was stopped under it, as asked
                log.exception("the move to %s failed", self.info.target_model)
                self.table.set_state(MoveState.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            if self._cancel.is_set():
                self.table.set_state(MoveState.CANCELLED, "cancelled; the library is unchanged")
            if not self._handed_over:
                self._worker.shutdown()
            self._publish(final=True)
            self.ended.set()
            if self.on_end is not None:
                self.on_end(self)

    def sync_plan(self) -> bool:
        """Plan videos the source gained, forget those it lost. True when nothing changed
        and nothing is pending (the target matches the source)."""
        source = self._active.deps.store
        rows = source.db.conn.execute(
            "SELECT id, path FROM videos WHERE status IN ('ready', 'kept')"
        ).fetchall()
        now = {int(r[0]): str(r[1]) for r in rows}
        planned = {e.video_id for e in self.table.entries()}
        gone = sorted(planned - set(now))
        if gone:
            remove_videos(self.target, gone)
        added = self.table.plan([(v, p) for v, p in now.items() if v not in planned])
        pending = self.table.entries(VideoState.PENDING)
        if gone or added:
            self._publish()
        return not gone and not added and not pending

    def _move_one(self, entry: VideoEntry) -> None:
        source = self._active.deps
        try:
            video = source.store.get_video(entry.video_id)
        except NotFound:
            remove_videos(self.target, [entry.video_id])  # deleted meanwhile
            return
        reason = self._unusable(video, source)
        if not reason:
            path = source.files.location(video)
            assert path is not None
            task, ids = task_for(source.store, video.id, path, uuid.uuid4().hex[:12])
            self._publish(VideoEntry(video.id, video.path, VideoState.PENDING, "re-embedding"))
            self._worker.send(task)
            outcome = self._wait(task.job_id, video)
            if isinstance(outcome, JobFinished):
                commit_video(self.target, video, outcome.result, ids)
                copy_thumbnails(source.store, self.target, ids.scene_ids)
                self._publish(VideoEntry(video.id, video.path, VideoState.DONE))
                return
            reason = outcome
            if self._halt.is_set():
                return  # stopped under it: the video stays pending, not unavailable
        keep = self.info.missing is Missing.KEEP
        log.warning("video %d cannot be re-embedded (%s): %s", video.id, reason, entry.path)
        settle_unavailable(self.target, video, keep, reason)
        state = VideoState.KEPT if keep else VideoState.DROPPED
        self._publish(VideoEntry(video.id, video.path, state, reason))

    @staticmethod
    def _unusable(video: Video, source: GenerationParts) -> str:
        """Why the video's source cannot be re-embedded; '' when it can."""
        if video.status == "kept":
            return "kept without vectors by an earlier move (its source was gone)"
        path = source.files.location(video)
        if path is None:
            if video.path.startswith(UPLOAD_PREFIX):
                return "its upload was not kept (the server ran with --discard-uploads)"
            return f"{video.path} is no longer a file inside a media root"
        try:
            digest = file_sha256(path)
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror or exc}"
        if digest != video.content_hash:
            return f"{path} has changed since it was ingested (different content)"
        return ""

    def _wait(self, job_id: str, video: Video) -> JobFinished | str:
        """The worker's result, or why there is none (the worker is restarted if needed)."""
        while True:
            try:
                event = self._worker.next_event(self._stall_timeout_s)
            except WorkerCrashed as exc:
                self._worker.restart()
                return f"{exc} while decoding it"
            if event is None:
                self._worker.restart()
                return f"decoding made no progress for {self._stall_timeout_s:.0f}s"
            if event.job_id != job_id:
                continue
            if isinstance(event, JobProgressed):
                note = f"re-embedding: {event.frames_done}/{event.frames_total} frames"
                self._publish(VideoEntry(video.id, video.path, VideoState.PENDING, note))
            elif isinstance(event, JobFailed):
                if event.kind.needs_new_worker:
                    self._worker.restart()
                return event.message
            else:
                return event
