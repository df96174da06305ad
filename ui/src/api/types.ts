// The API's answers, as the backend writes them.

export interface Warning { service?: string; key?: string; file?: string; line?: number; message: string }
export interface GraphNode { id: string; workload?: string; image: string; ports?: string[]; replicas: number; profiles?: string[]; internal?: boolean }
export interface GraphEdge { from: string; to: string; kind: string; detail?: string; ports?: number[]; refused?: string }
export interface GraphPath { from?: string; to: string; port?: number; protocol: string; reasons: string[] }
export interface Graph { nodes: GraphNode[]; edges: GraphEdge[]; paths?: GraphPath[] }
export interface AppSummary { id: string; name: string; origin: string; services: number; warnings: number; createdAt: string }
export interface AppView {
  id: string; name: string; origin: string; files: { name: string; size: number }[];
  objects: number; warnings: Warning[]; graph: Graph; createdAt: string;
}
export interface FileUpload { name: string; content: string }
export interface ImportRequest { name?: string; files?: FileUpload[]; project?: string; unread?: string; composeFiles?: string[]; envFiles?: string[] }
export interface ComposeProject { name: string; workingDir?: string; configFiles?: string[]; envFiles?: string[]; disputed?: boolean; state: string; services: { name: string; image: string; containers: { name: string; state: string }[] }[] }
export interface ClusterInfo { context: string; current?: boolean; reachable: boolean; reason?: string; version?: string; kind?: string; server?: string }
export interface MeshStatus { name: string; installed: boolean; version?: string; healthy: boolean; message?: string }
export interface Operation { id: string; kind: string; state: string; error?: string }
export interface OpEvent { seq: number; type: string; time: string; data: unknown }
export interface ObjectRef { apiVersion: string; kind: string; namespace?: string; name: string }
export interface WorkloadState extends ObjectRef { ready: number; desired: number; done: boolean; message?: string; problems?: { pod: string; reason: string; message?: string }[] }
export interface DeployOptions { mesh?: string; authz?: string; noWait?: boolean }
export interface DeployedURL { service: string; port: number; url?: string; via: string; error?: string }
export interface Deployment {
  id: string; appId: string; context: string; namespace: string; options: DeployOptions; state: string;
  workloads: WorkloadState[]; urls: DeployedURL[]; message?: string; lastOperation?: string;
}
export interface BenchSpec {
  url?: string; service?: string; namespace?: string; context?: string; qps: number; connections?: number; duration: string;
  inCluster?: boolean; pods?: number; labels?: Record<string, string>;
}
export interface BenchSummary { requests: number; qps: number; durationSeconds: number; minMs: number; avgMs: number; p50Ms: number; p90Ms: number; p99Ms: number; p999Ms: number; maxMs: number; errors: Record<string, number> }
export interface Benchmark { id: string; spec: BenchSpec; state: string; operationId?: string; target: string; mesh: string; meshVersion?: string; summary?: BenchSummary; message?: string; createdAt: string }
export interface Progress { elapsed: number; requests: number; qps: number; p50Ms: number; p99Ms: number; errors: number }
export interface CompareRow { metric: string; unit: string; a: number; b: number; diff: number; relative?: number }
export interface Comparison {
  a: { id: string; mesh: string; target: string }; b: { id: string; mesh: string; target: string }; rows: CompareRow[];
  cost: { latencyAddedMs: number; p50AddedMs: number; p99AddedMs: number; throughputLostPercent?: number; errorsAdded: number; proxies?: Record<string, unknown> };
  notes: string[];
}
export interface FortioResult { DurationHistogram: { Count: number; Data: { Start: number; End: number; Count: number; Percent: number }[] } }
