-- An app's files become rows of their own, and its source, options and
-- result columns of their own (the data is copied by the Go step of this
-- version, which then drops the JSON columns source, options and result).
CREATE TABLE app_files (
	app_id  TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	name    TEXT NOT NULL,
	content BLOB NOT NULL,
	PRIMARY KEY (app_id, seq)
) WITHOUT ROWID;
ALTER TABLE apps ADD COLUMN project TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN compose_files TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN env_files TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN env TEXT NOT NULL DEFAULT '{}';
ALTER TABLE apps ADD COLUMN profiles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN namespace TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN bind_mounts TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN objects TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN warning_list TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN graph TEXT NOT NULL DEFAULT '{"nodes":[],"edges":[]}';
