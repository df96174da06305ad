// Two ways to reach the same API: fetch (a browser on the server's own
// page) and Docker Desktop's extension client (the tab talks to the
// backend's socket through ddClient.extension.vm.service). Every screen
// goes through an ApiClient built on one of them.

/** An error answered by the API ({"error":{"code","message"}}), or a
 * failure to reach it (code "unavailable", status 0). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Transport {
  /** JSON in, JSON out (undefined for 204). */
  json<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T>;
  /** A download: the answer as a Blob. A binary one (an archive) is
   * asked for as base64 text where the transport reads answers as text. */
  blob(path: string, binary?: boolean): Promise<Blob>;
  /** text sends a body as it is (a kubeconfig's YAML) and reads JSON. */
  text<T>(method: Method, path: string, body: string, contentType: string): Promise<T>;
  /** What the transport is, for the page to say where it runs. */
  readonly kind: 'browser' | 'docker-desktop';
}

/** errorOf reads an error answer's body, whatever the API or a proxy sent. */
export function errorOf(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed && parsed.error && typeof parsed.error.message === 'string') {
      return new ApiError(status, parsed.error.code ?? 'internal', parsed.error.message);
    }
  } catch {
    // not JSON: said below
  }
  const text = body.trim().slice(0, 200);
  return new ApiError(status, status >= 500 ? 'internal' : 'invalid', text || `the server answered ${status}`);
}

const unreachable = (why: string) =>
  new ApiError(0, 'unavailable', `the meshdock server cannot be reached (${why}): is it running?`);

/** fetchTransport calls the API of the page's own server. Writes carry
 * the header the server asks of clients on its loopback port. */
export function fetchTransport(base = '', fetchFn: typeof fetch = (...a) => fetch(...a)): Transport {
  // send is every request: a body as it is, with its type.
  const send = async (method: Method, path: string, body?: string, contentType?: string, signal?: AbortSignal): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['X-Meshdock'] = '1';
    if (contentType) headers['Content-Type'] = contentType;
    let res: Response;
    try {
      res = await fetchFn(base + path, { method, headers, body, signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw unreachable(e instanceof Error ? e.message : String(e));
    }
    if (!res.ok) throw errorOf(res.status, await res.text());
    return res;
  };
  return {
    kind: 'browser',
    async json<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
      const res = body === undefined ? await send(method, path, undefined, undefined, signal)
        : await send(method, path, JSON.stringify(body), 'application/json', signal);
      if (res.status === 204) return undefined as T;
      return (await res.json()) as T;
    },
    async blob(path: string): Promise<Blob> {
      return (await send('GET', path)).blob();
    },
    async text<T>(method: Method, path: string, body: string, contentType: string): Promise<T> {
      return (await (await send(method, path, body, contentType)).json()) as T;
    },
  };
}

/** The part of Docker Desktop's extension client this uses. */
export interface DesktopService {
  request(config: { url: string; method: string; headers: Record<string, string>; data: unknown }): Promise<unknown>;
}

/** desktopTransport calls the backend through Docker Desktop. Its client
 * answers the decoded body, and throws {statusCode, message} with the
 * body as message on an error. */
export function desktopTransport(service: DesktopService): Transport {
  const call = async (method: Method, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> => {
    try {
      return await service.request({ url: path, method, headers: body === undefined ? {} : { 'Content-Type': contentType }, data: body ?? null });
    } catch (e) {
      const err = e as { statusCode?: number; message?: string; error?: string };
      const status = typeof err?.statusCode === 'number' ? err.statusCode : 0;
      const message = typeof err?.message === 'string' ? err.message : typeof err?.error === 'string' ? err.error : String(e);
      if (status === 0) throw unreachable(message);
      throw errorOf(status, message);
    }
  };
  return {
    kind: 'docker-desktop',
    async json<T>(method: Method, path: string, body?: unknown): Promise<T> {
      const out = await call(method, path, body);
      if (typeof out === 'string' && out !== '') {
        try {
          return JSON.parse(out) as T;
        } catch {
          return out as T;
        }
      }
      return (out === '' || out === null ? undefined : out) as T;
    },
    async blob(path: string, binary?: boolean): Promise<Blob> {
      if (binary) {
        // Docker Desktop's client reads every answer as text, which would
        // corrupt an archive: the server sends it as base64.
        const out = await call('GET', `${path}${path.includes('?') ? '&' : '?'}encoding=base64`);
        const text = atob(String(out).trim());
        const bytes = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
        return new Blob([bytes]);
      }
      const out = await call('GET', path);
      return new Blob([typeof out === 'string' ? out : JSON.stringify(out, null, 2)]);
    },
    async text<T>(method: Method, path: string, body: string, contentType: string): Promise<T> {
      const out = await call(method, path, body, contentType);
      return (typeof out === 'string' ? JSON.parse(out) : out) as T;
    },
  };
}

/** The part of Docker Desktop's extension client that runs host binaries. */
export interface DesktopHostCli {
  exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code?: number }>;
}

/** desktopHost runs the extension's host binaries and answers their
 * output; a failure (Docker Desktop rejects with the command's result)
 * is an ApiError in the command's own words. */
export function desktopHost(cli: DesktopHostCli, timeoutMs = 60_000): (cmd: string, args: string[]) => Promise<string> {
  const failed = (r: { stderr?: string; message?: string; code?: number } | undefined, fallback: string) => {
    const why = (r?.stderr || r?.message || fallback).trim().replace(/^meshdock-host: /, '');
    return new ApiError(0, 'host', why || `the host command failed${typeof r?.code === 'number' ? ` (exit ${r.code})` : ''}`);
  };
  return async (cmd, args) => {
    let r: { stdout: string; stderr: string; code?: number };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject({ message: `${cmd} did not answer within ${timeoutMs / 1000} s` }), timeoutMs);
    });
    try {
      r = await Promise.race([cli.exec(cmd, args), late]);
    } catch (e) {
      throw failed(e as { stderr?: string; message?: string; code?: number }, String(e));
    } finally {
      clearTimeout(timer);
    }
    if (typeof r.code === 'number' && r.code !== 0) throw failed(r, '');
    return r.stdout;
  };
}
