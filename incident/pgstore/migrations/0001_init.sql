-- incidentbot schema, version 1. Text keys use the "C" collation so that
-- they sort bytewise, as in the bbolt store.

-- Named counters: "incident" is the last incident number handed out. A
-- Create that fails rolls its increment back, so numbers have no gaps.
CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident', 0);

-- Incident headers (the Incident without its events, as JSON) and what is
-- derived from the timeline for lookups.
CREATE TABLE incidents (
    number     bigint PRIMARY KEY,
    service    text COLLATE "C" NOT NULL, -- lower-cased service name
    started_at timestamptz NOT NULL,
    open       boolean NOT NULL,
    last_seq   integer NOT NULL,
    header     json NOT NULL
);
CREATE INDEX incidents_by_service ON incidents (service, number);
CREATE INDEX incidents_open ON incidents (number) WHERE open;

-- The append-only timelines.
CREATE TABLE events (
    incident bigint NOT NULL REFERENCES incidents (number),
    seq      integer NOT NULL,
    data     json NOT NULL,
    PRIMARY KEY (incident, seq)
);

-- Alert keys (the Key of each alert_fired event) and event idempotency keys.
CREATE TABLE alert_keys (
    key      text COLLATE "C" PRIMARY KEY,
    incident bigint NOT NULL
);
CREATE TABLE idem (
    key      text COLLATE "C" PRIMARY KEY,
    incident bigint NOT NULL
);

-- The job queue (outbox). A job is claimed by one replica until
-- claimed_until; a replica renews its claims while it runs them.
CREATE TABLE jobs (
    id            text COLLATE "C" PRIMARY KEY,
    kind          text NOT NULL,
    queue         text COLLATE "C" NOT NULL,
    incident      bigint NOT NULL,
    payload       json,
    due_at        timestamptz NOT NULL,
    attempts      integer NOT NULL,
    last_error    text NOT NULL,
    coalescing    boolean NOT NULL,
    gen           integer NOT NULL,
    claimed_by    text,
    claimed_until timestamptz
);
CREATE INDEX jobs_due ON jobs (queue, due_at, id);
CREATE INDEX jobs_claimed ON jobs (queue, incident) WHERE claimed_until IS NOT NULL;

-- Tombstones of completed jobs: enqueueing a done job again does nothing.
CREATE TABLE jobs_done (
    id      text COLLATE "C" PRIMARY KEY,
    done_at timestamptz NOT NULL
);
CREATE INDEX jobs_done_at ON jobs_done (done_at);

-- Deduplication keys of redelivered envelopes and webhooks.
CREATE TABLE seen (
    namespace text COLLATE "C" NOT NULL,
    key       text COLLATE "C" NOT NULL,
    seen_at   timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX seen_at ON seen (seen_at);

-- Adapter state in named buckets.
CREATE TABLE kv (
    bucket text COLLATE "C" NOT NULL,
    key    text COLLATE "C" NOT NULL,
    value  bytea NOT NULL,
    PRIMARY KEY (bucket, key)
);
