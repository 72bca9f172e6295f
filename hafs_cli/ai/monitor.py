"""Watching hosts: model discovery and health (up/down), and the training guard.

Runs in its own threads and changes host state only under the engine's lock, notifying
it, so the dispatcher sees a host come back, go down or turn busy at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from hafs_cli.ai.hosts import Host, HostProber

DOWN_REPROBE_S = 5.0  # a host that went down is probed this often, to notice it is back


class HostMonitor:
    def __init__(
        self,
        prober: HostProber,
        cond: threading.Condition,
        event: Callable[..., None],
        in_use: dict[str, Counter[str]],
        settings: dict,
        clock: Callable[[], float],
        *,
        stopped: Callable[[], bool],
    ) -> None:
        self.prober = prober
        self._cond = cond
        self._event = event
        self._in_use = in_use  # models running per host: never unloaded
        self.settings = settings
        self.clock = clock
        self._stopped = stopped

    def discover_all(self, hosts: list[Host]) -> None:
        """Probe every host at once; a host slower than the connect timeout stays down."""
        threads = [threading.Thread(target=self.discover, args=(h,), daemon=True) for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(float(self.settings.get("connect_timeout_s", 3)) + 2)

    def _wait(self, interval: float) -> bool:
        """Sleep `interval` unless the engine stops first; True when it stopped."""
        with self._cond:
            return self._cond.wait_for(self._stopped, interval)

    def discover(self, host: Host) -> None:
        """Refresh a host's models and loaded models; mark it up or down."""
        try:
            models, loaded = self.prober.discover(host)
        except Exception as exc:  # noqa: BLE001 - any failure means: down for now
            with self._cond:
                host.down_reason = str(exc) or type(exc).__name__
                if host.up:
                    host.up = False
                    host.down_since = self.clock()
                    self._event("host_down", host=host.name, reason=str(exc))
                self._cond.notify_all()
            return
        with self._cond:
            host.models, host.loaded = models, loaded
            if not host.up:
                host.up = True
                host.down_since = None
                self._event("host_up", host=host.name, models=sorted(models))
            self._cond.notify_all()

    def discovery_loop(self, hosts: list[Host]) -> None:
        """Rediscover every host each interval; a host that is down, every few seconds."""
        interval = float(self.settings.get("discover_interval_s", 30))
        tick = min(interval, DOWN_REPROBE_S)
        while not self._wait(tick):
            now = self.clock()
            for host in hosts:
                if not host.up or now - host.last_discovery >= interval:
                    self.discover(host)

    def check_guard(self, host: Host) -> None:
        """Probe the guard; on a change, tell the dispatcher; while busy, unload idle models."""
        verdict = host.guard.check()
        with self._cond:
            if verdict.busy != host.busy:
                host.busy = verdict.busy
                host.busy_reason = verdict.reason if verdict.busy else ""
                self._event(
                    "guard_busy" if verdict.busy else "guard_clear",
                    host=host.name,
                    reason=verdict.reason,
                )
                self._cond.notify_all()
            idle_models = (
                [m for m in host.loaded if not self._in_use[host.name][m]] if host.busy else []
            )
        guard = self.settings.get("guard", {})
        if idle_models and guard.get("unload_idle", True) and host.up:
            for model in idle_models:
                try:
                    self.prober.unload(host, model)
                except Exception:  # noqa: BLE001 - unloading is best effort
                    continue
                with self._cond:
                    host.loaded.discard(model)
                self._event("unload", host=host.name, model=model)

    def guard_loop(self, host: Host) -> None:
        interval = float(self.settings.get("guard", {}).get("interval_s", 2))
        while not self._wait(interval):
            self.check_guard(host)
