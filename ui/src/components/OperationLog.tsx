import { useEffect, useRef, useState } from 'react';
import { Alert, Box, Button, LinearProgress, List, ListItem, ListItemText, Typography } from '@mui/material';
import { useClient } from '../api/context';
import { follow } from '../api/client';
import type { OpEvent } from '../api/types';
import { messageOf } from './common';

/** describe is one event as a line a person reads. */
export function describe(e: OpEvent): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  switch (e.type) {
    case 'step': return String(d.message ?? d.step ?? '');
    case 'object': return `${d.kind} ${d.name}: ${d.action}`;
    case 'workload': return `${d.kind} ${d.name}: ${d.ready}/${d.desired} ready${d.done ? ', done' : ''}${d.message ? ` (${d.message})` : ''}`;
    case 'rule': return `rule: ${d.rule}`;
    case 'warning': return `warning: ${d.message}`;
    case 'progress': return `${Math.round(Number(d.elapsed ?? 0) / 1e9)}s: ${d.requests} requests, ${Number(d.qps ?? 0).toFixed(1)}/s, p50 ${Number(d.p50Ms ?? 0).toFixed(2)} ms, p99 ${Number(d.p99Ms ?? 0).toFixed(2)} ms, ${d.errors} errors`;
    case 'loadgen': return `load generators: ${d.running}/${d.pods} running, ${d.ended} ended${d.message ? `: ${d.message}` : ''}`;
    case 'result': {
      const sum = d.summary as { requests?: number; qps?: number; p50Ms?: number } | undefined;
      return sum ? `result: ${sum.requests} requests, ${Number(sum.qps ?? 0).toFixed(1)}/s, p50 ${Number(sum.p50Ms ?? 0).toFixed(2)} ms (${d.state})` : `result: ${d.state}${d.message ? `: ${d.message}` : ''}`;
    }
    case 'comparison': return 'comparison ready';
    case 'end': return `ended: ${d.state}${d.error ? `: ${d.error}` : ''}`;
  }
  return `${e.type}: ${JSON.stringify(d).slice(0, 200)}`;
}

/** OperationLog follows an operation live and lists its events. */
export function OperationLog({ opId, onEvent, onEnd, title }: {
  opId: string; title: string; onEvent?: (e: OpEvent) => void; onEnd?: (state: string) => void;
}) {
  const client = useClient();
  const [events, setEvents] = useState<OpEvent[]>([]);
  const [state, setState] = useState('running');
  const [problem, setProblem] = useState('');
  const cb = useRef({ onEvent, onEnd });
  cb.current = { onEvent, onEnd };
  useEffect(() => {
    const ctl = new AbortController();
    setEvents([]);
    setState('running');
    follow(client, opId, (e) => {
      setProblem('');
      setEvents((cur) => [...cur.slice(-300), e]);
      cb.current.onEvent?.(e);
      if (e.type === 'end') {
        const s = String((e.data as { state?: string })?.state ?? 'ended');
        setState(s);
        cb.current.onEnd?.(s);
      }
    }, { signal: ctl.signal, onRetry: (err) => setProblem(`${err.message} Trying again…`) })
      .catch((err) => { setProblem(messageOf(err)); setState('unknown'); });
    return () => ctl.abort();
  }, [client, opId]);
  const last = events[events.length - 1];
  return (
    <Box aria-labelledby={`op-${opId}`}>
      <Typography id={`op-${opId}`} variant="h3" sx={{ fontSize: 16 }}>{title}: {state}</Typography>
      {state === 'running' && <LinearProgress aria-label={`${title} in progress`} sx={{ my: 1 }} />}
      {problem && <Alert severity="warning" role="alert">{problem}</Alert>}
      {state === 'running' && <Button size="small" onClick={() => client.cancel(opId).catch((e) => setProblem(messageOf(e)))}>Cancel</Button>}
      <Typography role="status" aria-live="polite" variant="body2" sx={{ my: 1 }}>{last ? describe(last) : 'Starting…'}</Typography>
      <List dense aria-label={`${title} events`} sx={{ maxHeight: 260, overflow: 'auto', border: 1, borderColor: 'divider' }}>
        {events.filter((e) => e.type !== 'progress').map((e) => (
          <ListItem key={e.seq}><ListItemText primary={describe(e)} primaryTypographyProps={{ variant: 'body2' }} /></ListItem>
        ))}
      </List>
    </Box>
  );
}
