import type {
  AppSummary, AppView, Benchmark, BenchSpec, ClusterInfo, Comparison, ComposeProject, Deployment, FileUpload, FortioResult,
  ImportRequest, MeshStatus, OpEvent, Operation, Warning,
} from './types';
import { ApiError, type Transport } from './transport';

const api = '/api/v1';
const q = encodeURIComponent;

/** ApiClient is the one way every screen reaches the backend. */
/** HostExec runs a command of the extension's host binaries (Docker
 * Desktop only) and returns its standard output. */
export type HostExec = (cmd: string, args: string[]) => Promise<string>;

/** The extension's host command: the host's kubeconfig, a running
 * project's files. */
export const hostCommand = 'meshdock-host';

export class ApiClient {
  readonly transport: Transport;
  readonly host?: HostExec;
  constructor(transport: Transport, host?: HostExec) {
    this.transport = transport;
    this.host = host;
  }

  apps = () => this.transport.json<{ apps: AppSummary[] }>('GET', `${api}/apps`).then((r) => r.apps);
  app = (id: string) => this.transport.json<AppView>('GET', `${api}/apps/${q(id)}`);
  importApp = (req: ImportRequest) => this.transport.json<AppView>('POST', `${api}/apps`, req);
  deleteApp = (id: string) => this.transport.json<void>('DELETE', `${api}/apps/${q(id)}`);
  warnings = (id: string) => this.transport.json<{ warnings: Warning[] }>('GET', `${api}/apps/${q(id)}/warnings`).then((r) => r.warnings);
  manifests = (id: string) =>
    this.transport.json<{ items: Record<string, unknown>[] }>('GET', `${api}/apps/${q(id)}/manifests?format=json`).then((r) => r.items ?? []);
  /** importProject imports a running compose project. Inside Docker
   * Desktop the backend cannot see the host's disk: its files are read
   * by the host binary where the project's labels say they are, and when
   * that fails the backend rebuilds the app from its containers, saying
   * why in its first warning. */
  importProject = async (p: ComposeProject): Promise<AppView> => {
    if (!this.host || !p.workingDir || !p.configFiles?.length) return this.importApp({ project: p.name });
    const args = ['project-files', '--dir', p.workingDir];
    for (const e of p.envFiles ?? []) args.push('--env-file', e);
    for (const svc of p.services) args.push('--service', svc.name);
    // The names come from the project's labels: after --, never flags.
    args.push('--', ...p.configFiles);
    let read: { files: FileUpload[]; composeFiles?: string[]; envFiles?: string[] };
    try {
      read = JSON.parse(await this.host(hostCommand, args));
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return this.importApp({ project: p.name, unread: why.slice(0, 1000) });
    }
    return this.importApp({ project: p.name, files: read.files, composeFiles: read.composeFiles, envFiles: read.envFiles?.length ? read.envFiles : undefined });
  };
  composeProjects = () => this.transport.json<{ projects: ComposeProject[] }>('GET', `${api}/compose-projects`).then((r) => r.projects);

  /** postKubeconfig gives the backend a kubeconfig (YAML), as the
   * extension does with the host's. */
  postKubeconfig = (yaml: string) =>
    this.transport.text<{ contexts: string[] }>('POST', `${api}/clusters/kubeconfig`, yaml, 'application/yaml').then((r) => r.contexts);
  /** useHostKubeconfig reads the host's kubeconfig through the host binary
   * and posts it. */
  useHostKubeconfig = async () => {
    if (!this.host) throw new ApiError(0, 'unavailable', 'the host kubeconfig is read only inside Docker Desktop');
    return this.postKubeconfig(await this.host(hostCommand, ['kubeconfig']));
  };
  clusters = () => this.transport.json<{ clusters: ClusterInfo[] }>('GET', `${api}/clusters`).then((r) => r.clusters);
  meshes = (context: string) => this.transport.json<{ meshes: MeshStatus[] }>('GET', `${api}/meshes?context=${q(context)}`).then((r) => r.meshes);
  installMesh = (mesh: string, context: string) =>
    this.transport.json<{ operation: Operation }>('POST', `${api}/meshes/${q(mesh)}/install?context=${q(context)}`).then((r) => r.operation);
  deploy = (appId: string, req: { context?: string; namespace?: string; options: { mesh?: string; authz?: string } }) =>
    this.transport.json<{ deployment: Deployment; operation: Operation }>('POST', `${api}/apps/${q(appId)}/deployments`, req);
  deployments = (appId: string) =>
    this.transport.json<{ deployments: Deployment[] }>('GET', `${api}/apps/${q(appId)}/deployments`).then((r) => r.deployments);
  deleteDeployment = (appId: string, id: string) =>
    this.transport.json<{ deployment: Deployment; operation: Operation }>('DELETE', `${api}/apps/${q(appId)}/deployments/${q(id)}`);

  operation = (id: string) => this.transport.json<Operation>('GET', `${api}/operations/${q(id)}`);
  cancel = (id: string) => this.transport.json<void>('POST', `${api}/operations/${q(id)}/cancel`);
  /** One long poll of an operation's events after seq. */
  events = (id: string, after: number, waitSeconds: number, signal?: AbortSignal) =>
    this.transport.json<{ events: OpEvent[]; done: boolean }>('GET', `${api}/operations/${q(id)}/log?lastEventId=${after}&wait=${waitSeconds}s`, undefined, signal);

  benchmarks = () => this.transport.json<{ benchmarks: Benchmark[] }>('GET', `${api}/benchmarks?limit=50`).then((r) => r.benchmarks);
  benchmark = (id: string) => this.transport.json<Benchmark>('GET', `${api}/benchmarks/${q(id)}`);
  startBenchmark = (spec: BenchSpec) => this.transport.json<{ benchmark: Benchmark; operation: Operation }>('POST', `${api}/benchmarks`, spec);
  compare = (a: string, b: string) => this.transport.json<Comparison>('POST', `${api}/benchmarks/compare`, { a, b });
  compareRun = (spec: BenchSpec, namespaces: [string, string]) =>
    this.transport.json<{ benchmarks: Benchmark[]; operation: Operation }>('POST', `${api}/benchmarks/compare`, { spec, namespaces });
  fortio = (id: string) => this.transport.json<FortioResult>('GET', `${api}/benchmarks/${q(id)}/fortio`);
  download = (path: string, binary?: boolean) => this.transport.blob(`${api}${path}`, binary);
}

/** follow reads an operation's events as they come, until its end event,
 * the signal, or an error the server keeps answering; a server that goes
 * away is retried with a pause, and said through onRetry. */
export async function follow(
  client: ApiClient, opId: string, onEvent: (e: OpEvent) => void,
  opts: { signal?: AbortSignal; onRetry?: (err: ApiError) => void; wait?: number; pause?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const pause = opts.pause ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  let after = 0;
  let failures = 0;
  while (!opts.signal?.aborted) {
    try {
      const { events, done } = await client.events(opId, after, opts.wait ?? 10, opts.signal);
      failures = 0;
      for (const e of events) {
        after = e.seq;
        onEvent(e);
      }
      if (done) return;
    } catch (e) {
      if (opts.signal?.aborted) return;
      // Gone, stopping or busy: it comes back; any other answer stands.
      const passing = e instanceof ApiError && (e.status === 0 || (e.status === 503 && e.code === 'unavailable'));
      if (!passing || ++failures > 30) throw e;
      opts.onRetry?.(e);
      await pause(Math.min(5000, 250 * 2 ** failures));
    }
  }
}
