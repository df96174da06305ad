-- Apps: a compose source, the options it was converted with and the result.
-- The counts are kept beside the JSON so a listing need not decode results.
CREATE TABLE apps (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	origin     TEXT NOT NULL,
	source     TEXT NOT NULL,
	options    TEXT NOT NULL,
	result     TEXT NOT NULL,
	services   INTEGER NOT NULL,
	warnings   INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX apps_created ON apps (created_at);

-- Operations: long work with a state; its events are an append-only log.
CREATE TABLE operations (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	app_id     TEXT REFERENCES apps (id) ON DELETE SET NULL,
	state      TEXT NOT NULL,
	error      TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX operations_state ON operations (state);

CREATE TABLE operation_events (
	op_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
	seq   INTEGER NOT NULL,
	time  TEXT NOT NULL,
	type  TEXT NOT NULL,
	data  TEXT NOT NULL,
	PRIMARY KEY (op_id, seq)
) WITHOUT ROWID;
