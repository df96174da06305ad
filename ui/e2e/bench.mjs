// Time to the first meaningful render of the app screen (the topology
// graph of the imported app drawn) in headless chromium, against a running
// meshdock server: the median of several cold page loads.
//
//   node e2e/bench.mjs --url http://127.0.0.1:PORT/ [--runs 7]
import { launch, parseArgs } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
const runs = Number(args.runs ?? 7);
const browser = await launch();
const times = [];
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } }); // a cold cache each time
  const page = await ctx.newPage();
  const t0 = Date.now();
  await page.goto(args.url + '#app');
  await page.locator('.react-flow__node').first().waitFor({ timeout: 30_000 });
  const ms = await page.evaluate(() => performance.now());
  times.push(ms);
  await ctx.close();
  if (Date.now() - t0 > 30_000) break;
}
await browser.close();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`first meaningful render of the app screen (graph drawn), median of ${times.length} cold loads: ${Math.round(median)} ms (min ${Math.round(times[0])}, max ${Math.round(times[times.length - 1])}); goal <= 1000 ms: ${median <= 1000 ? 'met' : 'MISSED'}`);
