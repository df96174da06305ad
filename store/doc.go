// Package store keeps meshdock's state in one SQLite file: apps with their
// sources and conversion results, and operations with their ordered events.
// It owns the schema (embedded migrations) and the durability settings; it
// must not know about HTTP, the Docker Engine or clusters, and it never
// interprets the sources it keeps.
package store
