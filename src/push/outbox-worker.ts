/**
 * The push outbox on its own thread (issue #7): every SQLite call of the outbox, and so every
 * fsync, happens here, never on the event loop. Requests are answered one at a time, in the order
 * they were sent; the hook relies on that order (a row it deletes is never handed out again).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteOutboxFile } from './outbox.js';
import type { OutboxRequest, OutboxResponse, OutboxResults, OutboxWorkerData } from './outbox-protocol.js';

const port = parentPort!;
const { path } = workerData as OutboxWorkerData;

function answer(outbox: SqliteOutboxFile, request: OutboxRequest): OutboxResults[keyof OutboxResults] {
  switch (request.type) {
    case 'enqueue':
      return outbox.enqueueMany(request.bodies, request.now);
    case 'poll':
      return { due: outbox.due(request.now, request.limit), nextAttemptAt: outbox.nextAttemptAfter(request.now) };
    case 'remove':
      return outbox.remove(request.rowId);
    case 'reschedule':
      outbox.reschedule(request.rowId, request.attempts, request.nextAttemptAt, request.lastStatus);
      return null;
    case 'close':
      outbox.close();
      return null;
  }
}

function post(response: OutboxResponse): void {
  port.postMessage(response);
}

let outbox: SqliteOutboxFile | undefined;
try {
  outbox = SqliteOutboxFile.open(path);
  post({ type: 'opened', pending: outbox.count() });
} catch (error) {
  post({ type: 'open-failed', error: (error as Error).message });
}

if (outbox) {
  const opened = outbox;
  port.on('message', (request: OutboxRequest) => {
    try {
      post({ type: 'done', id: request.id, result: answer(opened, request) });
    } catch (error) {
      post({ type: 'failed', id: request.id, error: (error as Error).message });
    }
  });
}
