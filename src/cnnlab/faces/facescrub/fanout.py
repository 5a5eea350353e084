"""Groups of items on two thread pools, in bounded memory: one fetch per group, its items fanned out.

Made for the downloader (a group = the faces of one URL), but knows nothing about faces:

1. `settle(item)` tries each item of a group without network (a result settles it, None does not);
2. `fetch(items)` runs once per group, for the items left, on the network pool (`net_workers`);
3. `finish(item, fetched)` then runs for each of them on any free thread of the local pool, so the
   faces of one photo are processed in parallel instead of one after another;
4. `done(items, results)` runs in the calling thread, once per group, with (result, used_network)
   for each item in order; it is the only place that touches the caller's state, so that state
   needs no lock.

Steps 1 and 3 (disk, hashing, decoding) run on the local pool (`local_workers`, about the number of
cores: CPU work gains nothing from more threads, and few threads handling large buffers keep the C
heap from fragmenting over a long run); the network pool only waits on sockets. At most
`max_groups` groups are in flight: the caller's iterable is consumed only as groups finish, so a
100,000-row list never sits in a pool's queue. An exception in a worker is raised in the calling
thread; queued work is then cancelled.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")  # an item (the downloader: (row index, FaceRow))
R = TypeVar("R")  # the result of one item
F = TypeVar("F")  # what one fetch returns


class _Group(Generic[T, R]):
    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.results: list[tuple[R, bool] | None] = [None] * len(items)
        self.left = len(items)
        self.lock = threading.Lock()


class GroupRunner(Generic[T, R, F]):
    """Runs groups as described in the module docstring; use `run` once."""

    def __init__(
        self,
        settle: Callable[[T], R | None],
        fetch: Callable[[Sequence[T]], F],
        finish: Callable[[T, F], R],
        done: Callable[[Sequence[T], list[tuple[R, bool]]], None],
        *,
        net_workers: int,
        local_workers: int,
        max_groups: int | None = None,
        name: str = "worker",
    ) -> None:
        self._settle, self._fetch, self._finish, self._done = settle, fetch, finish, done
        self._sizes = (net_workers, local_workers)
        self._max_groups = max_groups or 2 * (net_workers + local_workers)  # enough to keep all busy
        self._name = name
        self._events: queue.SimpleQueue = queue.SimpleQueue()  # ("done", group) or ("error", exception)
        self._net: ThreadPoolExecutor | None = None
        self._local: ThreadPoolExecutor | None = None

    def run(self, groups: Iterable[Sequence[T]]) -> None:
        """Run every group of `groups` (consumed lazily, in the calling thread) to completion."""
        self._net = ThreadPoolExecutor(max_workers=self._sizes[0], thread_name_prefix=f"{self._name}-net")
        self._local = ThreadPoolExecutor(max_workers=self._sizes[1], thread_name_prefix=f"{self._name}-local")
        in_flight = 0
        try:
            for items in groups:
                if not items:
                    continue
                while in_flight >= self._max_groups:
                    in_flight -= self._handle(self._events.get())
                while not self._events.empty():  # keep `done` close to the work, not all at the end
                    in_flight -= self._handle(self._events.get())
                self._local.submit(self._guard, self._start, _Group(items))
                in_flight += 1
            while in_flight:
                in_flight -= self._handle(self._events.get())
        except BaseException:
            for pool in (self._net, self._local):
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        for pool in (self._net, self._local):
            pool.shutdown(wait=True)

    def _handle(self, event: tuple[str, object]) -> int:
        kind, payload = event
        if kind == "error":
            raise payload  # type: ignore[misc]
        group: _Group = payload  # type: ignore[assignment]
        self._done(group.items, group.results)  # type: ignore[arg-type]
        return 1

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            self._events.put(("error", exc))

    def _start(self, group: _Group) -> None:
        """Local pool: settle what needs no network, then hand the rest to the network pool."""
        need = []
        for i, item in enumerate(group.items):
            result = self._settle(item)
            if result is None:
                need.append(i)
            else:
                self._settled(group, i, result, False)
        if need:
            assert self._net is not None
            self._net.submit(self._guard, self._fetch_group, group, need)

    def _fetch_group(self, group: _Group, need: list[int]) -> None:
        """Network pool: one fetch, then every item left goes back to the local pool (fan-out)."""
        fetched = self._fetch([group.items[i] for i in need])
        assert self._local is not None
        for i in need:
            self._local.submit(self._guard, self._finish_one, group, i, fetched)

    def _finish_one(self, group: _Group, i: int, fetched: F) -> None:
        self._settled(group, i, self._finish(group.items[i], fetched), True)

    def _settled(self, group: _Group, i: int, result: R, network: bool) -> None:
        group.results[i] = (result, network)
        with group.lock:
            group.left -= 1
            last = group.left == 0
        if last:
            self._events.put(("done", group))
