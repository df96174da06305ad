// Empties ui/dist before a build but for its .keep marker, which the Go
// package embeds when no UI is built.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
for (const name of readdirSync(dist)) {
  if (name !== '.keep') rmSync(join(dist, name), { recursive: true, force: true });
}
