-- Load tests: what was asked (spec), the URL the load went to, the mesh
-- of the target, the result in short (summary) and in full (fortio's own
-- JSON), newest first by created_at; and saved test profiles by name.
CREATE TABLE benchmarks (
	id           TEXT PRIMARY KEY,
	state        TEXT NOT NULL,
	op_id        TEXT NOT NULL DEFAULT '',
	spec         TEXT NOT NULL,
	target       TEXT NOT NULL DEFAULT '',
	mesh         TEXT NOT NULL DEFAULT 'none',
	mesh_version TEXT NOT NULL DEFAULT '',
	summary      TEXT NOT NULL DEFAULT 'null',
	result       BLOB,
	message      TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);
CREATE INDEX benchmarks_created ON benchmarks (created_at);

CREATE TABLE bench_profiles (
	name       TEXT PRIMARY KEY,
	spec       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
