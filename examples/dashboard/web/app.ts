// The dashboard page: the generated DashboardClient (web/sdk, from dashboard.wsmq.yaml) on the
// websocketmq client, bundled by examples/build.py into web/dashboard.js. The server pushes
// metrics.tick (drawn as cards and a bar history) and actions.log; a button sends actions.run,
// and the server's ui.confirm request to this page opens a dialog whose answer is the response.
import { WebSocketMQ, isWsmqError } from 'websocketmq';
import { $, showConnection } from '../../page.js';
import { DashboardClient, NotPossible } from './sdk/index.js';
import type { Action, Metrics, UiConfirmResponse } from './sdk/index.js';

const client = new WebSocketMQ(`ws://${location.host}/ws`);
const api = new DashboardClient(client);
const HISTORY = 60;

showConnection(client);

function draw(m: Metrics): void {
  $('seq').textContent = String(m.seq);
  $('queued').textContent = String(m.queued);
  $('processed').textContent = String(m.processed);
  $('workers').textContent = String(m.workers);
  $('load').textContent = `${Math.round(m.load * 100)}%`;
  $('load-fill').style.width = `${Math.round(m.load * 100)}%`;
  const bar = document.createElement('div');
  bar.style.height = `${Math.min(60, 2 + m.queued / 2)}px`;
  bar.title = `#${m.seq}: ${m.queued} queued`;
  $('history').append(bar);
  while ($('history').childElementCount > HISTORY) $('history').firstElementChild?.remove();
}

api.subscribeMetricsTick(draw);
api.subscribeActionsLog((entry) => {
  const li = document.createElement('li');
  li.dataset['action'] = entry.action;
  const who = entry.by === client.clientId ? 'you' : entry.by;
  li.textContent = `${entry.action} by ${who}: ${entry.outcome}`;
  $('log').prepend(li);
});

// The server asks before it acts: answer with the operator's click.
api.handleUiConfirm(
  (ask) =>
    new Promise<UiConfirmResponse>((resolve) => {
      $('confirm-question').textContent = ask.question;
      $('confirm').dataset['action'] = ask.action;
      $('confirm').dataset['open'] = '';
      const answer = (confirmed: boolean) => () => {
        delete $('confirm').dataset['open'];
        resolve({ confirmed });
      };
      $('confirm-yes').onclick = answer(true);
      $('confirm-no').onclick = answer(false);
    }),
);

function run(action: Action): void {
  const result = $('result');
  result.className = 'pending';
  result.textContent = `${action}: waiting for confirmation…`;
  api
    .actionsRun({ action }, { timeoutMs: 90_000 })
    .then((r) => {
      result.className = r.done ? 'ok' : 'error';
      result.textContent = `${action}: ${r.detail}`;
    })
    .catch((error: unknown) => {
      result.className = 'error';
      if (error instanceof NotPossible) result.textContent = `${action}: not possible: ${error.message}`;
      else result.textContent = isWsmqError(error) ? `${error.code}: ${error.message}` : String(error);
    });
}

for (const action of ['add-worker', 'remove-worker', 'flush-queue'] as const) {
  $(action).addEventListener('click', () => run(action));
}

void client.connect();
