import { memo, useMemo } from 'react';
import { Background, Controls, MarkerType, Position, ReactFlow, type Edge, type Node } from '@xyflow/react';
import dagre from '@dagrejs/dagre';
import { useTheme } from '@mui/material';
import '@xyflow/react/dist/style.css';
import type { Graph, GraphEdge } from '../api/types';

const width = 200;
const height = 92;

/** Overlay is a deployment of the app shown on its graph: the mesh its
 * services are enrolled in and how its paths are authorized. */
export interface Overlay { mesh: string; authz: string }

/** Above these, dagre's ordering takes seconds: columns by rank instead. */
export const bigNodes = 80;
export const bigEdges = 250;

/** positions places each service: dagre for an app of a usual size, and
 * for a big one columns by the longest chain of callers before it (a
 * layout in linear time, so the page never freezes). */
function positions(g: Graph): Map<string, { x: number; y: number }> {
  const out = new Map<string, { x: number; y: number }>();
  if (g.nodes.length <= bigNodes && g.edges.length <= bigEdges) {
    const d = new dagre.graphlib.Graph();
    d.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 170 });
    d.setDefaultEdgeLabel(() => ({}));
    for (const n of g.nodes) d.setNode(n.id, { width, height });
    for (const e of g.edges) if (d.hasNode(e.from) && d.hasNode(e.to)) d.setEdge(e.from, e.to);
    dagre.layout(d);
    for (const n of g.nodes) {
      const p = d.node(n.id);
      out.set(n.id, { x: p?.x ?? 0, y: p?.y ?? 0 });
    }
    return out;
  }
  const ids = new Set(g.nodes.map((n) => n.id));
  const into = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const e of g.edges) {
    if (!ids.has(e.from) || !ids.has(e.to) || e.from === e.to) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    into.set(e.to, (into.get(e.to) ?? 0) + 1);
  }
  // Kahn's order; what a cycle leaves is put after the rest.
  const rank = new Map<string, number>();
  const queue = g.nodes.filter((n) => !into.get(n.id)).map((n) => n.id);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const to of next.get(id) ?? []) {
      rank.set(to, Math.max(rank.get(to) ?? 0, (rank.get(id) ?? 0) + 1));
      into.set(to, (into.get(to) ?? 1) - 1);
      if (into.get(to) === 0) queue.push(to);
    }
  }
  const rows = new Map<number, number>();
  const last = Math.max(0, ...rank.values()) + 1;
  for (const n of g.nodes) {
    const r = rank.get(n.id) ?? last;
    const row = rows.get(r) ?? 0;
    rows.set(r, row + 1);
    out.set(n.id, { x: r * (width + 170) + width / 2, y: row * (height + 30) + height / 2 });
  }
  return out;
}

const laidOut = new WeakMap<Graph, Map<string, { x: number; y: number }>>();

/** layout places the services left to right by who depends on whom; with
 * an overlay, each service says its mesh and each connection whether the
 * deployment's rules allow it. */
export function layout(g: Graph, overlay?: Overlay, refusedColor = 'red'): { nodes: Node[]; edges: Edge[] } {
  let pos = laidOut.get(g);
  if (!pos) {
    pos = positions(g);
    laidOut.set(g, pos);
  }
  const meshed = !!overlay && overlay.mesh !== '' && overlay.mesh !== 'none';
  const rules = !!overlay && overlay.authz !== '' && overlay.authz !== 'off';
  const allowed = (from: string, to: string) => (g.paths ?? []).some((p) => p.from === from && p.to === to);
  const nodes: Node[] = g.nodes.map((n) => {
    const p = pos!.get(n.id);
    const ports = n.ports?.length ? n.ports.join(', ') : 'no ports';
    return {
      id: n.id,
      position: { x: (p?.x ?? 0) - width / 2, y: (p?.y ?? 0) - height / 2 },
      // Known dimensions: drawn at once, not hidden until measured (a
      // measurement can be missed when the page renders twice quickly).
      width,
      height,
      data: { label: `${n.id}\n${n.image}\n${ports}${n.replicas > 1 ? ` ×${n.replicas}` : ''}${meshed ? `\n${overlay.mesh}` : ''}` },
      ariaLabel: `service ${n.id}, image ${n.image}, ${ports}, ${n.replicas} replica${n.replicas === 1 ? '' : 's'}`,
      style: { width, height, whiteSpace: 'pre-line', fontSize: 12, overflow: 'hidden', borderStyle: n.internal ? 'dashed' : 'solid' },
      connectable: false,
      sourcePosition: Position.Right,
      targetPosition: Position.Left,
    };
  });
  // One line per pair of services, naming every way one reaches the other.
  const pairs = new Map<string, GraphEdge[]>();
  for (const e of g.edges) {
    const k = `${e.from}\u0000${e.to}`;
    pairs.set(k, [...(pairs.get(k) ?? []), e]);
  }
  const edges: Edge[] = [...pairs.values()].map((es) => {
    const e = es[0];
    const refused = es.find((x) => x.refused);
    const ports = [...new Set(es.flatMap((x) => x.ports ?? []))].filter((p) => p !== 0); // 0: every port
    const kinds = [...new Set(es.map((x) => x.kind))].join(', ');
    const marks = [meshed ? `${overlay!.mesh} mTLS` : '', rules ? (allowed(e.from, e.to) ? `${overlay!.authz}: allowed` : `${overlay!.authz}: denied`) : '']
      .filter(Boolean).join(' · ');
    const base = refused ? `${kinds}: refused` : ports.length ? `${kinds} :${ports.join(',')}` : kinds;
    return {
      id: `${e.from}->${e.to}`,
      source: e.from,
      target: e.to,
      label: marks ? `${base} · ${marks}` : base,
      animated: es.some((x) => x.kind === 'depends_on'),
      markerEnd: { type: MarkerType.ArrowClosed },
      style: refused ? { strokeDasharray: '4 4', stroke: refusedColor } : undefined,
      ariaLabel: `${e.from} to ${e.to}: ${es.map((x) => `${x.kind}${x.detail ? ` (${x.detail})` : ''}`).join(', ')}${refused ? `, refused: ${refused.refused}` : ''}${marks ? `; ${marks}` : ''}`,
    };
  });
  return { nodes, edges };
}

export const TopologyGraph = memo(function TopologyGraph({ graph, dark, overlay }: { graph: Graph; dark: boolean; overlay?: Overlay }) {
  const { palette } = useTheme();
  const { nodes, edges } = useMemo(() => layout(graph, overlay, palette.error.main), [graph, overlay, palette.error.main]);
  return (
    <div style={{ height: 420, border: '1px solid rgba(128,128,128,0.4)', borderRadius: 4 }} aria-label="Topology graph of the app's services">
      <ReactFlow nodes={nodes} edges={edges} fitView colorMode={dark ? 'dark' : 'light'} nodesDraggable={false} nodesConnectable={false}
        proOptions={{ hideAttribution: true }}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
});
