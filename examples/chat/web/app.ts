// The chat page: the generated ChatClient (web/sdk, from chat.wsmq.yaml) on the websocketmq
// client, bundled by examples/build.py into web/chat.js. One subscription to every room
// (`chat.*.message`: the generated subscribe with no `room` filter) shows the current room's
// lines and counts the others' as unread; presence.changed keeps the list of who is online.
import { WebSocketMQ, isWsmqError } from 'websocketmq';
import { $, input, showConnection } from '../../page.js';
import { ChatClient, NameTaken } from './sdk/index.js';
import type { ChatMessageEvent, Presence } from './sdk/index.js';

const client = new WebSocketMQ(`ws://${location.host}/ws`);
const api = new ChatClient(client);
const history = new Map<string, ChatMessageEvent[]>();
const unread = new Map<string, number>();
let current = 'lobby';
let me = 'guest';

showConnection(client);

function line(body: ChatMessageEvent): HTMLLIElement {
  const li = document.createElement('li');
  li.className = body.author === 'server' ? 'server' : '';
  li.textContent = `${body.author}: ${body.text}`;
  return li;
}

function renderRooms(): void {
  const rooms = [...new Set(['lobby', current, ...history.keys()])].sort();
  $('rooms').replaceChildren(
    ...rooms.map((room) => {
      const li = document.createElement('li');
      li.dataset['room'] = room;
      if (room === current) li.dataset['current'] = '';
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = unread.get(room) ? String(unread.get(room)) : '';
      li.append(`#${room}`, badge);
      li.addEventListener('click', () => enter(room));
      return li;
    }),
  );
}

function enter(room: string): void {
  current = room;
  unread.delete(room);
  $('room-title').textContent = room;
  $('messages').replaceChildren(...(history.get(room) ?? []).map(line));
  renderRooms();
}

function renderPresence(presence: Presence): void {
  $('members').replaceChildren(
    ...presence.members.map((m) => {
      const li = document.createElement('li');
      li.dataset['name'] = m.name;
      li.textContent = m.clientId === client.clientId ? `${m.name} (you)` : m.name;
      return li;
    }),
  );
}

function heard(body: ChatMessageEvent, room: string): void {
  history.set(room, [...(history.get(room) ?? []), body]);
  if (room === current) {
    $('messages').append(line(body));
  } else {
    unread.set(room, (unread.get(room) ?? 0) + 1);
  }
  renderRooms();
}

api.subscribeChatMessage(heard);
api.subscribePresenceChanged(renderPresence);

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const result = $('join-result');
  api
    .presenceJoin({ name: input('name').value.trim() })
    .then((presence) => {
      me = input('name').value.trim();
      $('me').textContent = me;
      result.className = 'ok';
      result.textContent = 'joined';
      renderPresence(presence);
    })
    .catch((error: unknown) => {
      result.className = 'error';
      if (error instanceof NameTaken) result.textContent = `name taken: ${error.message}`;
      else result.textContent = isWsmqError(error) ? `${error.code}: ${error.message}` : String(error);
    });
});

$('room-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const room = input('room-new').value.trim();
  if (room !== '') enter(room);
  input('room-new').value = '';
});

$('say-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input('say-text').value.trim();
  if (text === '') return;
  // Published to chat.<room>.message: every other page subscribed to it gets it; a publisher's
  // own events are not echoed back (spec/protocol.md §7.4), so the page shows its line itself.
  api.publishChatMessage(current, { author: me, text });
  heard({ author: me, text }, current);
  input('say-text').value = '';
});

renderRooms();
void client.connect();
