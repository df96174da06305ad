import { describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach } from 'vitest';
import { ApiClient } from '../api/client';
import { ClientContext } from '../api/context';
import { ApiError, type Transport } from '../api/transport';
import { ImportScreen, projectPath, readFiles } from '../screens/ImportScreen';
import { toYAML } from '../screens/AppScreen';
import { layout } from './TopologyGraph';
import { describe as describeEvent } from './OperationLog';
import { Source, lineOf } from './common';

afterEach(cleanup);

function fakeClient(handler: (method: string, path: string, body?: unknown) => unknown): ApiClient {
  const t: Transport = {
    kind: 'browser',
    json: async <T,>(method: string, path: string, body?: unknown) => handler(method, path, body) as T,
    blob: async () => new Blob([]),
    text: async <T,>(method: string, path: string, body: string) => handler(method, path, body) as T,
  };
  return new ApiClient(t);
}

describe('Import', () => {
  it('shows the API error and highlights the line it names in the pasted YAML', async () => {
    const client = fakeClient(() => { throw new ApiError(400, 'invalid', 'compose.yaml line 3: mapping values are not allowed in this context'); });
    render(<ClientContext.Provider value={client}><ImportScreen onImported={() => {}} /></ClientContext.Provider>);
    fireEvent.click(screen.getByRole('tab', { name: 'Paste YAML' }));
    fireEvent.change(screen.getByLabelText('compose.yaml'), { target: { value: 'services:\n  web:\n   image: x: y\n' } });
    fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('line 3: mapping values'));
    const marked = document.querySelector('[aria-current="true"]');
    expect(marked?.getAttribute('data-line')).toBe('3');
    expect(marked?.textContent).toContain('image: x: y');
    // The page stays usable: the text is kept and can be sent again.
    expect((screen.getByLabelText('compose.yaml') as HTMLTextAreaElement).value).toContain('image: x: y');
    expect((screen.getByRole('button', { name: 'Import' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('sends the pasted file and hands the app over', async () => {
    const sent: unknown[] = [];
    const client = fakeClient((_m, _p, body) => { sent.push(body); return { id: 'a1', name: 'demo', warnings: [], graph: { nodes: [], edges: [] } }; });
    let got = '';
    render(<ClientContext.Provider value={client}><ImportScreen onImported={(a) => { got = a.id; }} /></ClientContext.Provider>);
    fireEvent.click(screen.getByRole('tab', { name: 'Paste YAML' }));
    fireEvent.change(screen.getByLabelText('compose.yaml'), { target: { value: 'services: {web: {image: nginx}}' } });
    fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(got).toBe('a1'));
    expect(sent[0]).toEqual({ files: [{ name: 'compose.yaml', content: 'services: {web: {image: nginx}}' }] });
  });

  it('refuses a file over the limit before sending anything', async () => {
    const big = new File(['x'.repeat((1 << 20) + 1)], 'huge.yaml');
    await expect(readFiles([big])).rejects.toThrow('huge.yaml is 1.0 MiB: a file may be at most 1 MiB');
    const ok = await readFiles([new File(['services: {}'], 'compose.yaml')]);
    expect(ok).toEqual([{ name: 'compose.yaml', content: 'services: {}' }]);
  });

  it('lists the running projects and says when there are none', async () => {
    const client = fakeClient(() => ({ projects: [] }));
    render(<ClientContext.Provider value={client}><ImportScreen onImported={() => {}} /></ClientContext.Provider>);
    fireEvent.click(screen.getByRole('tab', { name: 'Running projects' }));
    await waitFor(() => expect(screen.getByText(/No compose project runs in Docker/)).toBeTruthy());
  });
});

describe('graph layout', () => {
  it('draws one line per pair of services with every way between them', () => {
    const { nodes, edges } = layout({
      nodes: [{ id: 'web', image: 'nginx', replicas: 1, ports: ['80'] }, { id: 'api', image: 'api', replicas: 2 }],
      edges: [{ from: 'web', to: 'api', kind: 'depends_on' }, { from: 'web', to: 'api', kind: 'env', ports: [8000] }],
    });
    expect(nodes).toHaveLength(2);
    expect(nodes[0].position.x).toBeLessThan(nodes[1].position.x);
    expect(edges).toHaveLength(1);
    expect(edges[0].label).toBe('depends_on, env :8000');
  });
});

describe('big apps', () => {
  it('lays out 300 services and 1500 connections without dagre, quickly, by rank', () => {
    const nodes = Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, image: 'x', replicas: 1 }));
    const edges = Array.from({ length: 1500 }, (_, i) => ({ from: `s${i % 150}`, to: `s${150 + ((i * 7) % 150)}`, kind: 'env' }));
    const t0 = performance.now();
    const out = layout({ nodes, edges });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(out.nodes).toHaveLength(300);
    const x = (id: string) => out.nodes.find((n) => n.id === id)!.position.x;
    expect(x('s0')).toBeLessThan(x('s150'));
  });
  it('shows the lines around the error of a big file only', () => {
    const text = Array.from({ length: 70000 }, (_, i) => `line ${i + 1}`).join('\n');
    render(<Source text={text} highlight={66221} label="big" />);
    const lines = document.querySelectorAll('[data-line]');
    expect(lines.length).toBe(101);
    expect(document.querySelector('[aria-current="true"]')?.textContent).toContain('line 66221');
    expect(screen.getByText('… 66170 lines before')).toBeTruthy();
  });
  it("keeps a folder's files where the project names them", () => {
    const f = new File(['x'], 'db.txt');
    Object.defineProperty(f, 'webkitRelativePath', { value: 'shop/secrets/db.txt' });
    expect(projectPath(f)).toBe('secrets/db.txt');
    expect(projectPath(new File(['x'], 'compose.yaml'))).toBe('compose.yaml');
  });
});

describe('graph overlay of a deployment', () => {
  const g = {
    nodes: [{ id: 'web', image: 'nginx', replicas: 1 }, { id: 'api', image: 'api', replicas: 1 }, { id: 'db', image: 'pg', replicas: 1 }],
    edges: [{ from: 'web', to: 'api', kind: 'depends_on' }, { from: 'web', to: 'db', kind: 'env' }],
    paths: [{ from: 'web', to: 'api', port: 8000, protocol: 'TCP', reasons: ['depends_on'] }],
  };
  it('says the mesh and which connections the rules allow', () => {
    const { nodes, edges } = layout(g, { mesh: 'istio', authz: 'enforce' });
    expect(String(nodes[0].data.label)).toContain('istio');
    expect(edges.find((e) => e.target === 'api')?.label).toBe('depends_on · istio mTLS · enforce: allowed');
    expect(edges.find((e) => e.target === 'db')?.label).toBe('env · istio mTLS · enforce: denied');
  });
  it('adds nothing without a mesh or rules', () => {
    const { edges } = layout(g, { mesh: 'none', authz: 'off' });
    expect(edges.map((e) => e.label)).toEqual(['depends_on', 'env']);
  });
});

describe('helpers', () => {
  it('writes objects as YAML', () => {
    expect(toYAML({ kind: 'Service', metadata: { name: 'web', labels: { a: 'true' } }, spec: { ports: [{ port: 80 }] } }).trimStart())
      .toBe('kind: Service\nmetadata:\n  name: web\n  labels:\n    a: "true"\nspec:\n  ports:\n    - port: 80');
  });
  it('finds the line an error names', () => {
    expect(lineOf('compose.yaml line 12: bad')).toBe(12);
    expect(lineOf('no line here')).toBeUndefined();
  });
  it('words the events', () => {
    expect(describeEvent({ seq: 1, time: '', type: 'workload', data: { kind: 'Deployment', name: 'web', ready: 1, desired: 2, done: false } }))
      .toBe('Deployment web: 1/2 ready');
    expect(describeEvent({ seq: 2, time: '', type: 'end', data: { state: 'failed', error: 'boom' } })).toBe('ended: failed: boom');
  });
});
