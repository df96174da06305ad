// The extension's UI in a real browser as Docker Desktop runs it: the
// page served from the extension image's ui/ folder by a test proxy that
// stands in for Docker Desktop, window.ddClient given as Docker Desktop
// gives it, its calls to the backend carried to the backend's unix socket
// (/__desktop/vm) and its host commands run by the image's own host
// binary (/__desktop/exec).
//
//   node e2e/desktop.mjs --url http://127.0.0.1:PORT/ --out DIR --example ../examples/shop \
//     --project NAME --context NAME
//
// Imports the example by upload and the running project (its files read
// through the host binary), downloads the Helm chart (an archive through
// a client that reads answers as text), takes the host's kubeconfig, and
// after the proxy restarts the backend's container (/__test/restart)
// finds both apps again. Exits 1 with the step that failed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { axe as axeOf, launch, parseArgs, shot as shotOf, tab } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
const out = args.out ?? 'test-results';
mkdirSync(out, { recursive: true });
const report = [];
const say = (s) => { report.push(s); console.log(s); };
const axe = (page, where) => axeOf(page, where, say);
const shot = (page, name) => shotOf(page, out, `desktop-${name}`);

/** ddClient is the part of Docker Desktop's extension client the UI uses,
 * behaving as Docker Desktop documents it: a service request answers the
 * decoded body, or throws {name, message: body, statusCode}; a host
 * command answers its result, or throws it when it fails. */
function ddClient() {
  const bridge = async (path, body) => {
    const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const request = async (config) => {
    const r = await bridge('/__desktop/vm', config);
    if (r.error) throw new Error(r.error); // the socket cannot be reached
    if (r.status < 200 || r.status > 299) throw { name: 'Error', message: r.body, statusCode: r.status };
    try {
      return JSON.parse(r.body);
    } catch {
      return r.body;
    }
  };
  const exec = async (cmd, args) => {
    const r = await bridge('/__desktop/exec', { cmd, args });
    const result = { ...r, lines: () => r.stdout.split('\n').filter(Boolean), parseJsonObject: () => JSON.parse(r.stdout) };
    if (r.code !== 0) throw result;
    return result;
  };
  const call = (method) => (url, data) => request({ url, method, headers: {}, data: data ?? null });
  window.ddClient = {
    extension: {
      vm: { service: { request, get: call('GET'), post: call('POST'), put: call('PUT'), delete: call('DELETE') } },
      host: { cli: { exec } },
      image: 'meshdock',
    },
    desktopUI: { toast: { success() {}, warning() {}, error() {} } },
    host: { platform: 'linux', openExternal() {} },
  };
}

const browser = await launch();
let step = 'start';
let failed = null;
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark', acceptDownloads: true });
await ctx.addInitScript(ddClient);
const page = await ctx.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.setDefaultTimeout(30_000);
try {
  step = 'open the tab';
  await page.goto(args.url + '#import');
  await page.getByRole('heading', { name: 'Import a compose app' }).waitFor();
  await shot(page, '01-import');
  await axe(page, 'desktop import');

  step = 'import by upload';
  await page.getByRole('tab', { name: 'Upload files' }).click();
  await page.getByTestId('folder-input').setInputFiles(args.example);
  await page.getByLabel('Project name (optional)').fill('desktop-upload');
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByRole('heading', { name: 'desktop-upload' }).waitFor();
  await page.locator('.react-flow__node', { hasText: 'db' }).first().waitFor();
  await shot(page, '02-app');
  await axe(page, 'desktop app');

  step = 'download the Helm chart';
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download Helm chart' }).click()]);
  const chart = join(out, 'desktop-chart.tar.gz');
  await download.saveAs(chart);
  const tar = gunzipSync(readFileSync(chart)).toString('latin1');
  if (!tar.includes('/Chart.yaml\0') || !tar.includes('apiVersion: v2')) throw new Error(`the chart's archive holds no Chart.yaml (${tar.length} bytes)`);

  step = 'import the running project';
  await tab(page, 'Import');
  await page.getByRole('tab', { name: 'Running projects' }).click();
  await page.getByRole('button', { name: `Import ${args.project}` }).click();
  await page.getByRole('heading', { name: args.project }).waitFor();
  await page.getByRole('heading', { name: /^Warnings \(/ }).waitFor();
  const warnings = await page.locator('section[aria-labelledby="warnings-title"]').textContent();
  if (/rebuilt from its containers|could not be read/.test(warnings)) throw new Error(`the project's own files were not used: ${warnings}`);
  await shot(page, '03-running-project');

  step = "the host's kubeconfig";
  await tab(page, 'Deploy');
  await page.getByRole('button', { name: "Use this computer's kubeconfig" }).click();
  await page.getByRole('combobox', { name: 'Cluster' }).click();
  await page.getByRole('option', { name: new RegExp(`^${args.context} `) }).waitFor();
  await page.keyboard.press('Escape');
  await shot(page, '04-kubeconfig');
  await axe(page, 'desktop deploy');

  step = 'restart the backend';
  const r = await fetch(new URL('/__test/restart', args.url), { method: 'POST' });
  if (!r.ok) throw new Error(`restart: ${r.status} ${await r.text()}`);
  await page.goto(args.url + '#app');
  await page.getByRole('combobox', { name: 'App' }).click();
  for (const name of ['desktop-upload', args.project]) await page.getByRole('option', { name: new RegExp(`^${name}`) }).first().waitFor();
  await page.keyboard.press('Escape');
  await shot(page, '05-after-restart');
  if (errors.length) throw new Error(`errors on the page: ${errors.join('; ')}`);
  say('ok: desktop');
} catch (e) {
  await shot(page, 'failed').catch(() => {});
  failed = new Error(`${step}: ${e instanceof Error ? e.message : e}`);
} finally {
  await browser.close();
  writeFileSync(join(out, 'desktop-report.txt'), report.join('\n') + '\n');
}
if (failed) {
  console.error(`e2e failed at ${failed.message}`);
  process.exit(1);
}
