import { useCallback, useEffect, useState } from 'react';
import {
  Box, Button, Checkbox, FormControlLabel, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography, useTheme,
} from '@mui/material';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useClient } from '../api/context';
import type { Benchmark, BenchSpec, Comparison, FortioResult, OpEvent, Progress } from '../api/types';
import { Empty, ErrorAlert } from '../components/common';
import { OperationLog } from '../components/OperationLog';
import { saveBlob } from '../components/download';

/** The note every result carries (fortio's own limit). */
export const omissionNote =
  'fortio does not correct coordinated omission: under a fixed QPS, requests due while a slow answer holds a connection are sent late and their wait is not counted, so the tail percentiles read lower than users would see.';

const fmt = (v: number | undefined, digits = 2) => (v === undefined || Number.isNaN(v) ? '' : v.toFixed(digits));
const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** BenchScreen runs load tests, shows them live and compares them. */
export function BenchScreen() {
  const client = useClient();
  const { palette } = useTheme();
  const [target, setTarget] = useState('');
  const [namespace, setNamespace] = useState('');
  const [baseline, setBaseline] = useState('');
  const [inCluster, setInCluster] = useState(false);
  const [qps, setQps] = useState('0');
  const [connections, setConnections] = useState('4');
  const [duration, setDuration] = useState('10s');
  const [op, setOp] = useState<{ id: string; title: string } | null>(null);
  const [live, setLive] = useState<{ t: number; qps: number; p50: number; p99: number }[]>([]);
  const [history, setHistory] = useState<Benchmark[]>([]);
  const [picked, setPicked] = useState<Benchmark | null>(null);
  const [histogram, setHistogram] = useState<{ ms: string; count: number }[]>([]);
  const [chosen, setChosen] = useState<string[]>([]);
  const [comparison, setComparison] = useState<Comparison | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => client.benchmarks().then(setHistory, setError), [client]);
  useEffect(() => { void load(); }, [load]);
  useEffect(() => {
    if (!picked?.summary) { setHistogram([]); return; }
    client.fortio(picked.id).then((f: FortioResult) =>
      setHistogram((f.DurationHistogram?.Data ?? []).map((b) => ({ ms: `${fmt(b.Start * 1000)}–${fmt(b.End * 1000)}`, count: b.Count }))), () => setHistogram([]));
  }, [client, picked]);

  const spec = (): BenchSpec => {
    const isURL = /^https?:\/\//.test(target.trim());
    return {
      ...(isURL ? { url: target.trim() } : { service: target.trim(), namespace: namespace || undefined }),
      qps: Number(qps), connections: Number(connections), duration, inCluster: !isURL && inCluster ? true : undefined,
    };
  };
  const start = async (compare: boolean) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    setLive([]);
    setComparison(null);
    try {
      if (compare) {
        const r = await client.compareRun({ ...spec(), namespace: undefined }, [baseline, namespace]);
        setOp({ id: r.operation.id, title: `Compare ${baseline} (baseline) with ${namespace}` });
      } else {
        const r = await client.startBenchmark(spec());
        setOp({ id: r.operation.id, title: `Load test of ${r.benchmark.target}` });
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const onEvent = (e: OpEvent) => {
    if (e.type === 'progress') {
      const p = e.data as Progress;
      setLive((cur) => [...cur.slice(-600), { t: Math.round(p.elapsed / 1e9), qps: p.qps, p50: p.p50Ms, p99: p.p99Ms }]);
    } else if (e.type === 'result') {
      setPicked(e.data as Benchmark);
    } else if (e.type === 'comparison') {
      setComparison(e.data as Comparison);
    }
  };
  const compareChosen = async () => {
    setError(null);
    try {
      setComparison(await client.compare(chosen[0], chosen[1]));
    } catch (e) {
      setError(e);
    }
  };
  const download = async (path: string, name: string) => {
    try { saveBlob(await client.download(path), name); } catch (e) { setError(e); }
  };
  const s = picked?.summary;
  return (
    <Stack spacing={2}>
      <Typography variant="h2" sx={{ fontSize: 22 }}>Benchmark</Typography>
      <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap">
        <TextField size="small" label="Target: a URL, or a Service (name[:port][/path])" value={target} onChange={(e) => setTarget(e.target.value)} sx={{ minWidth: 380 }} />
        <TextField size="small" label="Namespace" value={namespace} onChange={(e) => setNamespace(e.target.value)} />
        <TextField size="small" label="QPS (0: as fast as possible)" type="number" value={qps} onChange={(e) => setQps(e.target.value)} />
        <TextField size="small" label="Connections" type="number" value={connections} onChange={(e) => setConnections(e.target.value)} />
        <TextField size="small" label="Duration" value={duration} onChange={(e) => setDuration(e.target.value)} helperText="e.g. 10s, at most 10m" />
        <FormControlLabel control={<Checkbox checked={inCluster} onChange={(e) => setInCluster(e.target.checked)} />} label="Run in the cluster (across the mesh)" />
      </Stack>
      <Stack direction="row" spacing={1} alignItems="center" useFlexGap flexWrap="wrap">
        <Button variant="contained" disabled={!target.trim() || busy} onClick={() => start(false)}>Run</Button>
        <TextField size="small" label="Baseline namespace (no mesh)" value={baseline} onChange={(e) => setBaseline(e.target.value)} />
        <Button variant="outlined" disabled={!target.trim() || !baseline || !namespace || busy} onClick={() => start(true)}>Compare with no mesh</Button>
      </Stack>
      <ErrorAlert error={error} />
      {op && <OperationLog key={op.id} opId={op.id} title={op.title} onEvent={onEvent} onEnd={() => { setError(null); void load(); }} />}
      {live.length > 0 && (
        <section aria-labelledby="live-title">
          <Typography id="live-title" variant="h3" sx={{ fontSize: 18 }}>Live</Typography>
          <Box role="img" aria-label={`Live chart: ${live.length} seconds, last ${fmt(live[live.length - 1].qps, 0)} requests a second`} sx={{ height: 240 }}>
            <ResponsiveContainer>
              <LineChart data={live}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="t" unit="s" />
                <YAxis yAxisId="ms" unit=" ms" />
                <YAxis yAxisId="qps" orientation="right" />
                <Tooltip />
                <Legend />
                <Line yAxisId="ms" dataKey="p50" name="p50 (ms)" stroke={palette.primary.main} dot={false} isAnimationActive={false} />
                <Line yAxisId="ms" dataKey="p99" name="p99 (ms)" stroke={palette.error.main} dot={false} isAnimationActive={false} />
                <Line yAxisId="qps" dataKey="qps" name="QPS" stroke={palette.success.main} dot={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </Box>
        </section>
      )}
      {picked && s && (
        <section aria-labelledby="result-title">
          <Typography id="result-title" variant="h3" sx={{ fontSize: 18 }}>Result: {picked.target} ({picked.mesh}{picked.meshVersion ? ` ${picked.meshVersion}` : ''})</Typography>
          <Typography>{s.requests} requests in {fmt(s.durationSeconds, 1)} s: {fmt(s.qps, 1)} a second; errors: {Object.keys(s.errors).length === 0 ? 'none' : Object.entries(s.errors).map(([c, n]) => `${c === '-1' ? 'socket' : c}: ${n}`).join(', ')}</Typography>
          <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap' }}>
            <Box role="img" aria-label={`Percentiles: p50 ${fmt(s.p50Ms)} ms, p90 ${fmt(s.p90Ms)} ms, p99 ${fmt(s.p99Ms)} ms, p99.9 ${fmt(s.p999Ms)} ms, max ${fmt(s.maxMs)} ms`} sx={{ height: 220, width: 420 }}>
              <ResponsiveContainer>
                <BarChart data={[['p50', s.p50Ms], ['p90', s.p90Ms], ['p99', s.p99Ms], ['p99.9', s.p999Ms], ['max', s.maxMs]].map(([k, v]) => ({ k, ms: v }))}>
                  <CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="k" /><YAxis unit=" ms" /><Tooltip /><Bar dataKey="ms" fill={palette.primary.main} isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            </Box>
            {histogram.length > 0 && (
              <Box role="img" aria-label={`Latency histogram in ${histogram.length} buckets`} sx={{ height: 220, flex: 1, minWidth: 360 }}>
                <ResponsiveContainer>
                  <BarChart data={histogram}>
                    <CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="ms" /><YAxis /><Tooltip /><Bar dataKey="count" name="requests" fill={palette.success.main} isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              </Box>
            )}
          </Box>
          <Stack direction="row" spacing={1}>
            <Button variant="outlined" onClick={() => download(`/benchmarks/${picked.id}/smp?format=yaml`, `smp-${picked.id}.yaml`)}>Export SMP (YAML)</Button>
            <Button variant="outlined" onClick={() => download(`/benchmarks/${picked.id}/smp`, `smp-${picked.id}.json`)}>Export SMP (JSON)</Button>
            <Button variant="outlined" onClick={() => download(`/benchmarks/${picked.id}/fortio`, `fortio-${picked.id}.json`)}>Export fortio JSON</Button>
          </Stack>
          <Typography variant="body2" sx={{ mt: 1 }}>{omissionNote}</Typography>
        </section>
      )}
      {comparison && <ComparisonView c={comparison} />}
      <section aria-labelledby="history-title">
        <Typography id="history-title" variant="h3" sx={{ fontSize: 18 }}>History</Typography>
        {history.length === 0 ? <Empty>No load test yet: name a target above and run one.</Empty> : (
          <>
            <Table size="small" aria-label="Load tests">
              <TableHead><TableRow><TableCell>Compare</TableCell><TableCell>When</TableCell><TableCell>Target</TableCell><TableCell>Mesh</TableCell><TableCell>State</TableCell><TableCell>QPS</TableCell><TableCell>p50 ms</TableCell><TableCell>p99 ms</TableCell></TableRow></TableHead>
              <TableBody>
                {history.map((b) => (
                  <TableRow key={b.id} hover selected={picked?.id === b.id} onClick={() => setPicked(b)} sx={{ cursor: 'pointer' }}>
                    <TableCell padding="checkbox" onClick={(e) => e.stopPropagation()}>
                      <Checkbox inputProps={{ 'aria-label': `Compare ${b.target} at ${b.createdAt}` }} checked={chosen.includes(b.id)} disabled={!b.summary}
                        onChange={(e) => setChosen((cur) => (e.target.checked ? [...cur, b.id].slice(-2) : cur.filter((x) => x !== b.id)))} />
                    </TableCell>
                    <TableCell>{new Date(b.createdAt).toLocaleString()}</TableCell>
                    <TableCell>{b.target}</TableCell>
                    <TableCell>{b.mesh}</TableCell>
                    <TableCell>{b.state}</TableCell>
                    <TableCell>{fmt(b.summary?.qps, 1)}</TableCell>
                    <TableCell>{fmt(b.summary?.p50Ms)}</TableCell>
                    <TableCell>{fmt(b.summary?.p99Ms)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
            <Button sx={{ mt: 1 }} variant="outlined" disabled={chosen.length !== 2} onClick={compareChosen}>Compare the two chosen (first is the baseline)</Button>
          </>
        )}
      </section>
    </Stack>
  );
}

export function ComparisonView({ c }: { c: Comparison }) {
  return (
    <section aria-labelledby="compare-title">
      <Typography id="compare-title" variant="h3" sx={{ fontSize: 18 }}>Comparison: {c.a.mesh} (A) and {c.b.mesh} (B)</Typography>
      <Table size="small" aria-label="Comparison">
        <TableHead><TableRow><TableCell>Measure</TableCell><TableCell align="right">A</TableCell><TableCell align="right">B</TableCell><TableCell align="right">B − A</TableCell><TableCell align="right">B / A − 1</TableCell></TableRow></TableHead>
        <TableBody>
          {c.rows.map((r) => (
            <TableRow key={r.metric}>
              <TableCell>{r.metric}{r.unit ? ` (${r.unit})` : ''}</TableCell>
              <TableCell align="right">{num(r.a)}</TableCell>
              <TableCell align="right">{num(r.b)}</TableCell>
              <TableCell align="right">{num(r.diff)}</TableCell>
              <TableCell align="right">{r.relative === undefined || r.relative === null ? '' : `${(r.relative * 100).toFixed(1)}%`}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Typography sx={{ mt: 1 }} aria-label="Mesh cost">
        What the mesh costs: {fmt(c.cost.latencyAddedMs, 3)} ms per request (mean), p50 {fmt(c.cost.p50AddedMs, 3)} ms, p99 {fmt(c.cost.p99AddedMs, 3)} ms
        {c.cost.throughputLostPercent === undefined ? '' : c.cost.throughputLostPercent >= 0
          ? `, throughput ${fmt(c.cost.throughputLostPercent, 1)}% lower` : `, throughput ${fmt(-c.cost.throughputLostPercent, 1)}% higher`}, {c.cost.errorsAdded} more errors.
      </Typography>
      {c.cost.proxies && <Box component="pre" sx={{ fontSize: 12 }}>{JSON.stringify(c.cost.proxies, null, 2)}</Box>}
      <ul>{c.notes.map((n, i) => <li key={i}><Typography variant="body2">{n}</Typography></li>)}</ul>
    </section>
  );
}
