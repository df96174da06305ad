import { describe, expect, it, vi } from 'vitest';
import { ApiClient, follow } from './client';
import { ApiError, desktopHost, desktopTransport, errorOf, fetchTransport, type DesktopService } from './transport';

const json = (status: number, body: unknown) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('fetch transport', () => {
  it('sends writes with the client header and JSON, and reads answers', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const f = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init: init ?? {} });
      return json(201, { id: 'a1', name: 'demo', warnings: [], graph: { nodes: [], edges: [] } });
    }) as unknown as typeof fetch;
    const c = new ApiClient(fetchTransport('', f));
    const app = await c.importApp({ name: 'demo', files: [{ name: 'compose.yaml', content: 'services: {}' }] });
    expect(app.id).toBe('a1');
    expect(calls[0].url).toBe('/api/v1/apps');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>)['X-Meshdock']).toBe('1');
    expect(JSON.parse(String(calls[0].init.body)).files[0].name).toBe('compose.yaml');
  });

  it('leaves the header off reads, and reads 204 as nothing', async () => {
    const f = vi.fn(async (_u: string | URL | Request, init?: RequestInit) => {
      if (init?.method === 'GET') expect((init?.headers as Record<string, string>)['X-Meshdock']).toBeUndefined();
      return init?.method === 'DELETE' ? new Response(null, { status: 204 }) : json(200, { apps: [] });
    }) as unknown as typeof fetch;
    const c = new ApiClient(fetchTransport('', f));
    expect(await c.apps()).toEqual([]);
    expect(await c.deleteApp('x')).toBeUndefined();
  });

  it('turns an error answer into the API words', async () => {
    const f = (async () => json(400, { error: { code: 'invalid', message: 'compose.yaml line 4: mapping values are not allowed' } })) as unknown as typeof fetch;
    const err = await new ApiClient(fetchTransport('', f)).app('x').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid');
    expect(err.message).toBe('compose.yaml line 4: mapping values are not allowed');
  });

  it('says the server cannot be reached', async () => {
    const f = (async () => { throw new TypeError('Failed to fetch'); }) as unknown as typeof fetch;
    const err = await new ApiClient(fetchTransport('', f)).apps().catch((e) => e);
    expect(err.status).toBe(0);
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain('cannot be reached');
  });

  it('reads a proxy page that is not JSON', () => {
    const e = errorOf(502, '<html>Bad Gateway</html>');
    expect(e.code).toBe('internal');
    expect(e.message).toContain('Bad Gateway');
  });
});

describe('Docker Desktop transport', () => {
  it('calls the backend through the extension client', async () => {
    const seen: unknown[] = [];
    const service: DesktopService = {
      request: async (cfg) => { seen.push(cfg); return { apps: [{ id: 'a', name: 'shop' }] }; },
    };
    const c = new ApiClient(desktopTransport(service));
    expect((await c.apps())[0].name).toBe('shop');
    expect(seen[0]).toMatchObject({ url: '/api/v1/apps', method: 'GET' });
  });

  it('reads a string answer as JSON, and an error from its message', async () => {
    let fail = false;
    const service: DesktopService = {
      request: async () => {
        if (fail) throw { statusCode: 404, message: JSON.stringify({ error: { code: 'not_found', message: 'no app with id "x"' } }) };
        return '{"id":"a","name":"n"}';
      },
    };
    const c = new ApiClient(desktopTransport(service));
    expect((await c.app('a')).name).toBe('n');
    fail = true;
    const err = await c.app('x').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.message).toBe('no app with id "x"');
  });

  it('says the backend cannot be reached when the socket is gone', async () => {
    const service: DesktopService = { request: async () => { throw new Error('connect ENOENT meshdock.sock'); } };
    const err = await new ApiClient(desktopTransport(service)).apps().catch((e) => e);
    expect(err.code).toBe('unavailable');
  });
});

describe('follow', () => {
  it('reads the events in order to the end, through a server that goes away', async () => {
    let call = 0;
    const answers: (() => unknown)[] = [
      () => ({ events: [{ seq: 1, type: 'step', data: {} }, { seq: 2, type: 'progress', data: {} }], done: false }),
      () => { throw new TypeError('Failed to fetch'); },
      () => ({ events: [{ seq: 3, type: 'end', data: { state: 'succeeded' } }], done: true }),
    ];
    const urls: string[] = [];
    const f = (async (u: string | URL | Request) => {
      urls.push(String(u));
      const a = answers[call++]();
      return json(200, a);
    }) as unknown as typeof fetch;
    const seen: number[] = [];
    const retries: string[] = [];
    await follow(new ApiClient(fetchTransport('', f)), 'op1', (e) => seen.push(e.seq), {
      pause: async () => {}, onRetry: (e) => retries.push(e.code),
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(retries).toEqual(['unavailable']);
    expect(urls[2]).toContain('lastEventId=2');
  });

  it('waits out a server that is busy or stopping', async () => {
    let call = 0;
    const f = (async () => (call++ === 0
      ? json(503, { error: { code: 'unavailable', message: 'busy: too many event streams are open' } })
      : json(200, { events: [{ seq: 1, type: 'end', data: {} }], done: true }))) as unknown as typeof fetch;
    const seen: number[] = [];
    await follow(new ApiClient(fetchTransport('', f)), 'op', (e) => seen.push(e.seq), { pause: async () => {} });
    expect(seen).toEqual([1]);
  });

  it('gives up on an error the server answers', async () => {
    const f = (async () => json(404, { error: { code: 'not_found', message: 'no operation' } })) as unknown as typeof fetch;
    await expect(follow(new ApiClient(fetchTransport('', f)), 'x', () => {}, { pause: async () => {} })).rejects.toThrow('no operation');
  });
});

describe('the host kubeconfig (Docker Desktop)', () => {
  it('reads it through the host binary and posts it as YAML', async () => {
    const seen: { url: string; method: string; headers: Record<string, string>; data: unknown }[] = [];
    const service: DesktopService = { request: async (cfg) => { seen.push(cfg); return { contexts: ['docker-desktop'] }; } };
    const ran: string[][] = [];
    const c = new ApiClient(desktopTransport(service), async (cmd, args) => { ran.push([cmd, ...args]); return 'apiVersion: v1\nkind: Config\n'; });
    expect(await c.useHostKubeconfig()).toEqual(['docker-desktop']);
    expect(ran).toEqual([['meshdock-host', 'kubeconfig']]);
    expect(seen[0]).toMatchObject({ url: '/api/v1/clusters/kubeconfig', method: 'POST', headers: { 'Content-Type': 'application/yaml' }, data: 'apiVersion: v1\nkind: Config\n' });
  });

  it('is said to need Docker Desktop in a browser', async () => {
    const c = new ApiClient(fetchTransport('', (async () => json(200, {})) as unknown as typeof fetch));
    await expect(c.useHostKubeconfig()).rejects.toThrow('only inside Docker Desktop');
  });

  it('posts a kubeconfig over fetch as it is', async () => {
    let body: unknown;
    const f = (async (_u: string | URL | Request, init?: RequestInit) => { body = init?.body; return json(200, { contexts: ['a'] }); }) as unknown as typeof fetch;
    expect(await new ApiClient(fetchTransport('', f)).postKubeconfig('kind: Config\n')).toEqual(['a']);
    expect(body).toBe('kind: Config\n');
  });
});

describe('a running project inside Docker Desktop', () => {
  const project = { name: 'shop', workingDir: '/home/me/shop', configFiles: ['/home/me/shop/compose.yaml'], envFiles: ['/home/me/shop/.env'], state: 'running', services: [{ name: 'web', image: 'nginx', containers: [] }] };
  const setup = (host: (cmd: string, args: string[]) => Promise<string>) => {
    const seen: { url: string; data: unknown }[] = [];
    const service: DesktopService = { request: async (cfg) => { seen.push(cfg); return { id: 'a', name: 'shop', warnings: [] }; } };
    return { seen, c: new ApiClient(desktopTransport(service), host) };
  };

  it('reads its files through the host binary and imports them with the project', async () => {
    const ran: string[][] = [];
    const { seen, c } = setup(async (cmd, args) => {
      ran.push([cmd, ...args]);
      return JSON.stringify({ files: [{ name: 'compose.yaml', content: 'services: {}' }, { name: '.env', content: 'A=1' }], composeFiles: ['compose.yaml'], envFiles: ['.env'] });
    });
    await c.importProject(project);
    expect(ran).toEqual([['meshdock-host', 'project-files', '--dir', '/home/me/shop', '--env-file', '/home/me/shop/.env', '--service', 'web', '--', '/home/me/shop/compose.yaml']]);
    expect(seen[0]).toMatchObject({ url: '/api/v1/apps', data: { project: 'shop', files: [{ name: 'compose.yaml' }, { name: '.env' }], composeFiles: ['compose.yaml'], envFiles: ['.env'] } });
  });

  it('says why the host could not read them, and the backend rebuilds the app', async () => {
    const cli = { exec: async () => { throw { stdout: '', stderr: 'meshdock-host: compose.yaml: compose file not found\n', code: 1 }; } };
    const { seen, c } = setup(desktopHost(cli));
    await c.importProject(project);
    expect(seen[0].data).toEqual({ project: 'shop', unread: 'compose.yaml: compose file not found' });
  });

  it('asks the backend alone in a browser, or without recorded files', async () => {
    const { seen, c } = setup(async () => { throw new Error('not run'); });
    await c.importProject({ ...project, configFiles: [] });
    expect(seen[0].data).toEqual({ project: 'shop' });
  });

  it('fails a host command on its exit code, in its own words', async () => {
    const host = desktopHost({ exec: async () => ({ stdout: '', stderr: 'meshdock-host: the kubeconfig has no current context\n', code: 1 }) });
    await expect(host('meshdock-host', ['kubeconfig'])).rejects.toThrow(/^the kubeconfig has no current context$/);
    expect(await desktopHost({ exec: async () => ({ stdout: 'ok', stderr: '', code: 0 }) })('x', [])).toBe('ok');
    const hung = desktopHost({ exec: () => new Promise(() => {}) }, 20);
    await expect(hung('meshdock-host', ['project-files'])).rejects.toThrow('meshdock-host did not answer within 0.02 s');
  });
});

describe('binary downloads inside Docker Desktop', () => {
  it('are asked for as base64 and decoded to their bytes', async () => {
    const seen: string[] = [];
    const bytes = [0x1f, 0x8b, 0x08, 0x00, 0xff, 0x80, 0x00];
    const service: DesktopService = { request: async (cfg) => { seen.push(cfg.url); return btoa(String.fromCharCode(...bytes)); } };
    const blob = await new ApiClient(desktopTransport(service)).download('/apps/a/export?format=helm&archive=tar', true);
    expect(seen).toEqual(['/api/v1/apps/a/export?format=helm&archive=tar&encoding=base64']);
    const read = await new Promise<ArrayBuffer>((resolve) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result as ArrayBuffer);
      r.readAsArrayBuffer(blob);
    });
    expect([...new Uint8Array(read)]).toEqual(bytes);
  });
});
