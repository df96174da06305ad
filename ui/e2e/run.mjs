// The UI end to end in a real browser (Debian's chromium driven by
// playwright-core) against a running meshdock server: every step
// screenshotted in light and dark, each screen checked with axe-core.
//
//   node e2e/run.mjs --url http://127.0.0.1:PORT --out DIR --example ../examples/shop \
//     --target http://127.0.0.1:PORT2/ [--deploy] [--project NAME] [--mesh istio]
//
// Exits 1 with the step that failed (and a screenshot of it).
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { axe as axeOf, exampleFiles, launch, parseArgs, shot as shotOf, tab } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
const base = args.url;
const out = args.out ?? 'test-results';
mkdirSync(out, { recursive: true });
const browser = await launch();

let step = 'start';
const report = [];
const say = (s) => { report.push(s); console.log(s); };
const axe = (page, where) => axeOf(page, where, say);
const shot = (page, name) => shotOf(page, out, name);

async function run(scheme) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: scheme, acceptDownloads: true });
  // Anything the page's Content-Security-Policy refuses is a failure: the
  // UI must work under it.
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(30_000);
  const s = (name) => `${scheme}-${name}`;
  try {
    step = `${scheme}: open`;
    await page.goto(base + '#import');
    await page.getByRole('heading', { name: 'Import a compose app' }).waitFor();
    await shot(page, s('01-import'));
    await axe(page, `${scheme} import`);

    if (scheme === 'light') {
      step = `${scheme}: by keyboard alone`;
      // Tab to a control by its name, at most 60 presses.
      const tabTo = async (name) => {
        for (let i = 0; i < 60; i++) {
          await page.keyboard.press('Tab');
          const focused = await page.evaluate(() => {
            const el = document.activeElement;
            const label = el?.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : '';
            return (el?.getAttribute('aria-label') || label || el?.textContent || '').trim();
          });
          if (focused.startsWith(name)) return;
        }
        throw new Error(`${name} cannot be reached with Tab`);
      };
      await page.locator('body').focus();
      await tabTo('Upload files');
      await page.keyboard.press('ArrowRight'); // the tabs move with the arrows
      await page.keyboard.press('Enter');
      await tabTo('compose.yaml');
      await page.keyboard.type('services:\n  kb:\n    image: nginx\n');
      await tabTo('Project name');
      await page.keyboard.type('keyboard');
      await tabTo('Import');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'keyboard' }).waitFor();
      await shot(page, s('01b-keyboard'));
      await tab(page, 'Import');
      await page.getByRole('heading', { name: 'Import a compose app' }).waitFor();
    }

    step = `${scheme}: import by paste`;
    await page.getByRole('tab', { name: 'Paste YAML' }).click();
    const name = `paste-${scheme}`;
    await page.getByLabel('compose.yaml').fill('services:\n  web:\n    image: nginx:1.27\n    ports: ["8080:80"]\n    depends_on: [api]\n  api:\n    image: ghcr.io/example/api:1\n    expose: ["8000"]\n');
    await page.getByLabel('Project name (optional)').fill(name);
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByRole('heading', { name }).waitFor();
    await page.locator('.react-flow__node', { hasText: 'api' }).first().waitFor();
    await shot(page, s('02-pasted-app'));

    step = `${scheme}: broken YAML`;
    await tab(page, 'Import');
    await page.getByRole('tab', { name: 'Paste YAML' }).click();
    await page.getByLabel('compose.yaml').fill('services:\n  web:\n   image: x: y\n');
    await page.getByRole('button', { name: 'Import' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'was not imported' });
    await alert.waitFor();
    const marked = page.locator('[aria-current="true"][data-line]');
    if (!(await marked.count())) throw new Error(`no line highlighted for: ${await alert.textContent()}`);
    await shot(page, s('03-broken-yaml'));
    await axe(page, `${scheme} import error`);

    if (scheme === 'light') {
      step = `${scheme}: a file that is not compose`;
      await page.getByRole('tab', { name: 'Upload files' }).click();
      await page.getByTestId('file-input').setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('shopping list: milk, eggs\n') }]);
      await page.getByRole('button', { name: 'Import' }).click();
      await page.getByRole('alert').filter({ hasText: 'was not imported' }).waitFor();
      await shot(page, s('03b-not-compose'));
      await page.getByRole('button', { name: 'Import' }).waitFor(); // usable still

      step = `${scheme}: a file over the limit`;
      await page.getByTestId('file-input').setInputFiles([{ name: 'huge.yaml', mimeType: 'text/plain', buffer: Buffer.alloc((1 << 20) + 10, 'a') }]);
      await page.getByRole('alert').filter({ hasText: 'at most 1 MiB' }).waitFor();
      await shot(page, s('03c-too-large'));
    }

    step = `${scheme}: import by upload`;
    await page.reload();
    await page.getByRole('tab', { name: 'Upload files' }).waitFor();
    await page.getByRole('tab', { name: 'Upload files' }).click();
    if (scheme === 'light') {
      await page.getByTestId('folder-input').setInputFiles(args.example); // a folder, its subfolders kept
    } else {
      await page.getByTestId('file-input').setInputFiles(exampleFiles(args.example));
    }
    await page.getByLabel('Project name (optional)').fill(`upload-${scheme}`);
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByRole('heading', { name: `upload-${scheme}` }).waitFor();
    await page.locator('.react-flow__node', { hasText: 'db' }).first().waitFor();
    await page.getByRole('heading', { name: /^Warnings \(/ }).waitFor();
    await page.getByRole('button', { name: /^(ServiceAccount|Secret|ConfigMap|Service|Deployment)/ }).first().waitFor();
    await shot(page, s('04-app'));
    await axe(page, `${scheme} app`);

    if (args.project && scheme === 'light') {
      step = `${scheme}: import a running project`;
      await tab(page, 'Import');
      await page.getByRole('tab', { name: 'Running projects' }).click();
      await page.getByRole('button', { name: `Import ${args.project}` }).click();
      await page.getByRole('heading', { name: args.project }).waitFor();
      await shot(page, s('05-running-project'));
    }

    if (args.deploy && scheme === 'light') {
      step = `${scheme}: deploy with no mesh`;
      await page.getByRole('combobox', { name: 'App' }).click();
      await page.getByRole('option', { name: /^upload-light/ }).click();
      await tab(page, 'Deploy');
      await page.getByRole('button', { name: 'Deploy', exact: true }).waitFor();
      await shot(page, s('06-deploy'));
      await axe(page, `${scheme} deploy`);
      if (args.unreachable) {
        step = `${scheme}: a cluster that cannot be reached`;
        await page.getByRole('combobox', { name: 'Cluster' }).click();
        await page.getByRole('option', { name: new RegExp(`^${args.unreachable} \\(unreachable`) }).click();
        await page.getByRole('button', { name: 'Deploy', exact: true }).click();
        await page.getByRole('alert').first().waitFor();
        await shot(page, s('06b-unreachable'));
        await page.getByRole('combobox', { name: 'Cluster' }).click();
        await page.getByRole('option', { name: /\(other v/ }).first().click();
      }
      await page.getByLabel('Namespace (optional)').fill(`ui-none-${Date.now() % 100000}`);
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      await page.getByRole('heading', { name: /: succeeded$/ }).first().waitFor({ timeout: 180_000 });
      await page.getByRole('table', { name: 'Deployments' }).getByText('deployed').first().waitFor();
      await shot(page, s('07-deployed'));
      if (args.mesh) {
        step = `${scheme}: deploy with ${args.mesh}`;
        await page.getByRole('combobox', { name: 'Mesh' }).click();
        await page.getByRole('option', { name: new RegExp(`^${args.mesh}( |$)`) }).click();
        const install = page.getByRole('button', { name: `Install ${args.mesh}` });
        if (await install.count()) {
          await install.click();
          await page.getByRole('heading', { name: new RegExp(`^Install ${args.mesh}: succeeded$`) }).waitFor({ timeout: 300_000 });
        }
        await page.getByLabel('Namespace (optional)').fill(`ui-${args.mesh}-${Date.now() % 100000}`);
        await page.getByRole('button', { name: 'Deploy', exact: true }).click();
        await page.getByRole('heading', { name: new RegExp(`\\(${args.mesh}\\): succeeded$`) }).waitFor({ timeout: 180_000 });
        await shot(page, s('08-deployed-mesh'));

        step = `${scheme}: the deployment on the graph`;
        await tab(page, 'App');
        await page.getByRole('combobox', { name: 'Show on the graph' }).click();
        await page.getByRole('option', { name: new RegExp(`\\(${args.mesh}, authorization`) }).click();
        await page.locator('.react-flow__edge-text', { hasText: `${args.mesh} mTLS` }).first().waitFor();
        await shot(page, s('08b-graph-mesh'));
        await axe(page, `${scheme} app with a deployment`);
        await tab(page, 'Deploy');
      }
    }

    if (args.target && scheme === 'light') {
      step = `${scheme}: benchmark`;
      await tab(page, 'Benchmark');
      await page.getByRole('heading', { name: 'History' }).waitFor();
      await shot(page, s('09-benchmark'));
      await axe(page, `${scheme} benchmark`);
      const runOnce = async () => {
        await page.getByLabel(/^Target/).fill(args.target);
        await page.getByLabel('Duration').fill('3s');
        await page.getByRole('button', { name: 'Run', exact: true }).click();
        await page.getByRole('img', { name: /^Live chart/ }).waitFor({ timeout: 10_000 });
        await page.getByRole('heading', { name: /^Load test of .*: succeeded$/ }).waitFor({ timeout: 60_000 });
        await page.getByRole('heading', { name: /^Result: / }).waitFor();
      };
      await runOnce();
      await shot(page, s('10-benchmark-result'));
      await axe(page, `${scheme} benchmark result`);

      step = `${scheme}: export SMP`;
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export SMP (YAML)' }).click()]);
      const smpPath = join(out, 'smp.yaml');
      await download.saveAs(smpPath);
      const smp = readFileSync(smpPath, 'utf8');
      for (const key of ['smp_version: v0.6.0', 'latencies_ms:', 'actual_qps:', 'endpoint_url:', 'mesh_type: none', 'coordinated omission']) {
        if (!smp.includes(key)) throw new Error(`the SMP file has no ${key}:\n${smp.slice(0, 600)}`);
      }

      step = `${scheme}: compare`;
      await runOnce();
      const boxes = page.getByRole('checkbox', { name: /^Compare / });
      await boxes.nth(0).check();
      await boxes.nth(1).check();
      await page.getByRole('button', { name: /^Compare the two chosen/ }).click();
      await page.getByRole('table', { name: 'Comparison' }).waitFor();
      await page.getByLabel('Mesh cost').waitFor();
      await shot(page, s('11-compare'));
      await axe(page, `${scheme} compare`);
    }

    if (args['server-pid'] && scheme === 'dark') {
      step = `${scheme}: the backend going away mid-stream`;
      await tab(page, 'Benchmark');
      await page.getByLabel(/^Target/).fill(args.target);
      await page.getByLabel('Duration').fill('60s');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.getByRole('img', { name: /^Live chart/ }).waitFor({ timeout: 10_000 });
      process.kill(Number(args['server-pid']), 'SIGKILL');
      await page.getByRole('alert').filter({ hasText: 'cannot be reached' }).first().waitFor({ timeout: 30_000 });
      await shot(page, s('12-backend-gone'));
      await tab(page, 'App'); // the page stays usable
      await page.getByRole('alert').first().waitFor({ timeout: 30_000 });
      await shot(page, s('13-backend-gone-app'));
    }

    step = `${scheme}: dark and light screens`;
    for (const t of ['App', 'Deploy', 'Benchmark']) {
      await tab(page, t);
      await page.waitForTimeout(300);
      await shot(page, s(`screen-${t.toLowerCase()}`));
    }
    const csp = await page.evaluate(() => window.__csp);
    if (csp.length) throw new Error(`the Content-Security-Policy refused: ${csp.join('; ')}`);
    if (errors.length) throw new Error(`errors on the page: ${errors.join('; ')}`);
    say(`ok: ${scheme}`);
  } catch (e) {
    await shot(page, s('failed')).catch(() => {});
    throw new Error(`${step}: ${e instanceof Error ? e.message : e}`);
  } finally {
    await ctx.close();
  }
}

let failed = null;
try {
  await run('light');
  await run('dark');
} catch (e) {
  failed = e;
} finally {
  await browser.close();
  writeFileSync(join(out, 'report.txt'), report.join('\n') + '\n');
}
if (failed) {
  console.error(`e2e failed at ${failed.message}`);
  process.exit(1);
}
