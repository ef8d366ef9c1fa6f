/**
 * PostgreSQL schema of the message store (SPEC §11: the single source of truth of a cluster).
 * Applied by migrate.ts, once per schema, whichever node starts first; append-only list.
 *
 * Text keys use the "C" collation: eids and devices are opaque strings (byte-wise equality and
 * order), and every node sorts them the same way when it locks queue rows.
 */

export const MESSAGE_STORE_COMPONENT = 'message-store';

export const MESSAGE_STORE_MIGRATIONS: readonly string[] = [
  `
  -- The store's incarnation (QueueInfo.epoch): one per database, the same whichever node is asked.
  CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
  INSERT INTO meta (key, value) VALUES ('instance_id', gen_random_uuid()::text);

  -- SPEC §6 F1: the one global signal_id sequence. Taken before the append transaction (a
  -- sequence is not transactional: a failed or duplicate append leaves a gap, which is fine).
  CREATE SEQUENCE signal_ids AS bigint;

  -- One row per user queue: the offset allocator. Appends lock it FOR UPDATE (in eid order) and
  -- assign head + 1, head + 2… under the lock, so offsets are gap-free and N + 1 never commits
  -- before N (a per-user SEQUENCE would do neither). head never goes back (SPEC §6 F10), even when
  -- retention empties the queue; first_stored_at is when its first retained entry was stored
  -- (NULL while it has none), for retention to find old queues. fillfactor leaves room so the
  -- head update of every append stays a HOT update.
  CREATE TABLE queues (
    eid             text   COLLATE "C" PRIMARY KEY,
    head            bigint NOT NULL DEFAULT 0,
    first_stored_at bigint
  ) WITH (fillfactor = 70);
  CREATE INDEX queues_by_first_stored_at ON queues (first_stored_at) WHERE first_stored_at IS NOT NULL;

  -- Each message body is stored once; queue entries point at it by signal_id. recipient_offset is
  -- 0 for a note to oneself; retention uses both offsets to tell whether an entry still refers to it.
  CREATE TABLE messages (
    signal_id        bigint PRIMARY KEY,
    sender_eid       text   COLLATE "C" NOT NULL,
    client_id        text   COLLATE "C" NOT NULL,
    sender_offset    bigint NOT NULL,
    recipient_eid    text   COLLATE "C" NOT NULL,
    recipient_offset bigint NOT NULL,
    body             bytea  NOT NULL,
    stored_at        bigint NOT NULL
  );
  -- SPEC §6 F1.2: idempotency on (sender eid, client id), cluster-wide.
  CREATE UNIQUE INDEX messages_idempotency ON messages (sender_eid, client_id);

  -- One row per entry of a user's queue (SPEC §5). body is NULL for messages (kept in messages).
  CREATE TABLE entries (
    eid           text     COLLATE "C" NOT NULL,
    user_offset   bigint   NOT NULL,
    kind          smallint NOT NULL,
    signal_id     bigint   NOT NULL,
    author_device text     COLLATE "C" NOT NULL,
    target_device text     COLLATE "C" NOT NULL,
    body          bytea,
    stored_at     bigint   NOT NULL,
    PRIMARY KEY (eid, user_offset)
  );

  -- SPEC §6 F3: per-device committed offsets; seen_at for retention of unseen devices (F10).
  CREATE TABLE cursors (
    eid     text   COLLATE "C" NOT NULL,
    device  text   COLLATE "C" NOT NULL,
    cursor  bigint NOT NULL,
    seen_at bigint NOT NULL,
    PRIMARY KEY (eid, device)
  );
  CREATE INDEX cursors_by_seen_at ON cursors (seen_at);

  -- SPEC §6 F4: at most one receipt per (message, status).
  CREATE TABLE receipts (
    signal_id bigint   NOT NULL,
    status    smallint NOT NULL,
    PRIMARY KEY (signal_id, status)
  );

  -- SPEC §6 F7: directional subscriptions (state 1 active, 2 pending), blocks; F6 visibility.
  CREATE TABLE subscriptions (
    subscriber text     COLLATE "C" NOT NULL,
    target     text     COLLATE "C" NOT NULL,
    state      smallint NOT NULL,
    updated_at bigint   NOT NULL,
    PRIMARY KEY (subscriber, target)
  );
  CREATE INDEX subscriptions_by_target ON subscriptions (target, subscriber);
  CREATE TABLE blocks (
    blocker    text   COLLATE "C" NOT NULL,
    blocked    text   COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (blocker, blocked)
  );
  CREATE TABLE user_settings (
    eid    text    COLLATE "C" PRIMARY KEY,
    hidden boolean NOT NULL
  );
  `,
];

/** subscriptions.state */
export const SubscriptionState = { Active: 1, Pending: 2 } as const;
