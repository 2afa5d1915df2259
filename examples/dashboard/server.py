"""The dashboard example's server: the generated DashboardServer (``dashboard_sdk``, from
dashboard.wsmq.yaml) on a real broker, serving the page (``web/index.html`` + ``web/dashboard.js``).

A simulated job queue (jobs arrive, workers process them) is sampled every ``TICK`` seconds and
pushed to every page as ``metrics.tick``. An operator's ``actions.run`` is not run at once: the
server first asks the page that sent it ``ui.confirm`` (a server→browser request, spec/protocol.md
§8.4) and runs the action only when that page answers ``confirmed: true``; every outcome is
published as ``actions.log`` to every page, and printed (``dashboard: ACTION OUTCOME``).

``python examples/dashboard/server.py [--port 8083]``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from dashboard_sdk import (  # noqa: E402
    Action,
    ActionsLogEvent,
    ActionsRunRequest,
    ActionsRunResponse,
    DashboardServer,
    Metrics,
    NotPossible,
    UiConfirmRequest,
)
from example_server import Background, pages, run  # noqa: E402
from websocketmq import Broker, WsmqError  # noqa: E402
from websocketmq.sdk import Context  # noqa: E402

__all__ = ["PAGES", "TICK", "DashboardApp", "install", "main"]

PAGES = pages(HERE)
TICK = 0.25
"""Seconds between two samples."""
ARRIVALS = 5
"""Jobs arriving per tick; each worker finishes 1 job per tick."""
CONFIRM_TIMEOUT = 60.0
"""How long a page has to answer ui.confirm (a person is reading the question)."""


class DashboardApp:
    """The simulated queue, its sampling loop and the typed action handler."""

    def __init__(self, broker: Broker, workers: int = 2) -> None:
        self.api = DashboardServer(broker)
        self.queued = 0
        self.processed = 0
        self.workers = workers
        self.seq = 0
        self.api.actions_run(self.run_action)

    def step(self) -> Metrics:
        """One tick of the simulation, as the sample pushed to pages."""
        self.queued += ARRIVALS
        done = min(self.queued, self.workers)
        self.queued -= done
        self.processed += done
        self.seq += 1
        load = min(1.0, self.queued / (self.workers * 20 or 1))
        return Metrics(
            seq=self.seq,
            queued=self.queued,
            processed=self.processed,
            workers=self.workers,
            load=round(load, 3),
        )

    async def push_forever(self) -> None:
        """Sample and publish ``metrics.tick`` every ``TICK`` seconds."""
        while True:
            await self.api.publish_metrics_tick(self.step())
            await asyncio.sleep(TICK)

    def question(self, action: Action) -> str:
        if action == "flush-queue":
            return f"Flush {self.queued} queued jobs? They will be lost."
        if action == "add-worker":
            return f"Add a worker ({self.workers} → {self.workers + 1})?"
        return f"Remove a worker ({self.workers} → {self.workers - 1})?"

    def apply(self, action: Action) -> str:
        if action == "flush-queue":
            flushed, self.queued = self.queued, 0
            return f"flushed {flushed} jobs"
        self.workers += 1 if action == "add-worker" else -1
        return f"{self.workers} workers"

    async def run_action(self, body: ActionsRunRequest, ctx: Context) -> ActionsRunResponse:
        """``actions.run``: confirm on the asking page (``ui.confirm``), then run the action."""
        if body.action == "remove-worker" and self.workers <= 1:
            raise NotPossible("the last worker stays", {"workers": self.workers})
        if ctx.client_id is None:
            raise NotPossible("only a page can confirm an action")
        ask = UiConfirmRequest(action=body.action, question=self.question(body.action))
        try:
            answer = await self.api.ui_confirm(ctx.client_id, ask, timeout=CONFIRM_TIMEOUT)
            confirmed, why = answer.confirmed, "declined on the page"
        except WsmqError as exc:
            confirmed, why = False, f"not confirmed: {exc.code}"
        outcome = self.apply(body.action) if confirmed else why
        print(f"dashboard: {body.action} {outcome}", flush=True)
        await self.api.publish_actions_log(
            ActionsLogEvent(action=body.action, by=ctx.client_id, outcome=outcome)
        )
        return ActionsRunResponse(done=confirmed, detail=outcome)


def install(broker: Broker) -> Background:
    """Put the dashboard on ``broker``; its sampling loop runs while the server does."""
    return DashboardApp(broker).push_forever


def main() -> None:
    """``python examples/dashboard/server.py [--host H] [--port P]``."""
    run("dashboard", install, PAGES, 8083)


if __name__ == "__main__":
    main()
