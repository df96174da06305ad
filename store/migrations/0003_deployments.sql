-- The images an app builds from source, and the deployments of apps into
-- clusters: where (context, namespace), with which options, what was
-- applied there (the inventory, also kept in the cluster), its state and
-- its last operation.
ALTER TABLE apps ADD COLUMN builds TEXT NOT NULL DEFAULT '[]';

CREATE TABLE deployments (
	id         TEXT PRIMARY KEY,
	app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	context    TEXT NOT NULL,
	namespace  TEXT NOT NULL,
	options    TEXT NOT NULL DEFAULT '{}',
	state      TEXT NOT NULL,
	inventory  TEXT NOT NULL DEFAULT '[]',
	workloads  TEXT NOT NULL DEFAULT '[]',
	urls       TEXT NOT NULL DEFAULT '[]',
	kept       TEXT NOT NULL DEFAULT '[]',
	last_op    TEXT NOT NULL DEFAULT '',
	message    TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	UNIQUE (context, namespace)
);
CREATE INDEX deployments_app ON deployments (app_id, created_at);
