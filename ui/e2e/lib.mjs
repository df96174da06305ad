// What the browser runs share: their arguments, the browser, screenshots,
// axe-core, the example's files and the tabs.
import { chromium } from 'playwright-core';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';

/** args reads --name value pairs; a flag without a value is 'true'. */
export function parseArgs(argv) {
  return Object.fromEntries(argv.reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
    return acc;
  }, []));
}

/** launch starts Debian's chromium, headless and quiet. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const axeSource = () => readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe fails on the serious and critical violations of the page as it
 * is, and says the others through say. */
export async function axe(page, where, say) {
  // Through the browser's devtools channel, which the page's CSP does not
  // govern (an inline script would be refused, as it should).
  await page.evaluate(axeSource());
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of res) say(`  axe ${where}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join('; ')})`);
  if (bad.length) throw new Error(`axe: ${bad.length} serious or critical violations on ${where}: ${bad.map((v) => v.id).join(', ')}`);
}

export async function shot(page, out, name) {
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
}

/** exampleFiles are a folder's files for a file input, under their
 * paths in it. */
export function exampleFiles(dir) {
  const files = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else files.push({ name: relative(dir, p), mimeType: 'text/plain', buffer: readFileSync(p) });
    }
  };
  walk(dir);
  return files;
}

export async function tab(page, name) {
  await page.getByRole('tab', { name, exact: true }).first().click();
}
