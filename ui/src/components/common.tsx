import { Alert, Box, CircularProgress, Typography } from '@mui/material';
import { useEffect, useMemo, useRef, type ReactNode } from 'react';
import { ApiError } from '../api/transport';

/** messageOf is an error as the API words it. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <Alert severity="error" role="alert" sx={{ my: 1, whiteSpace: 'pre-wrap' }}>
      {title ? <strong>{title}: </strong> : null}
      {messageOf(error)}
    </Alert>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <Box role="status" aria-live="polite" sx={{ display: 'flex', alignItems: 'center', gap: 1, my: 2 }}>
      <CircularProgress size={18} aria-hidden="true" />
      <Typography variant="body2">Loading {what}…</Typography>
    </Box>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <Box sx={{ my: 3, p: 3, border: 1, borderColor: 'divider', borderRadius: 1, borderStyle: 'dashed' }}>
      <Typography variant="body1">{children}</Typography>
    </Box>
  );
}

/** lineOf finds the line an error message names ("line 4"). */
export function lineOf(message: string): number | undefined {
  const m = /\bline (\d+)\b/.exec(message);
  return m ? Number(m[1]) : undefined;
}

/** Source shows text with line numbers, one line highlighted and
 * scrolled to: the lines around it only (a big file would freeze the
 * page). */
export function Source({ text, highlight, label }: { text: string; highlight?: number; label: string }) {
  const lines = useMemo(() => text.split('\n'), [text]);
  const marked = useRef<HTMLSpanElement>(null);
  useEffect(() => { marked.current?.scrollIntoView?.({ block: 'center' }); }, [highlight, text]);
  const around = 50;
  const first = highlight ? Math.max(1, highlight - around) : 1;
  const last = Math.min(lines.length, highlight ? highlight + around : 2 * around);
  return (
    <Box component="pre" aria-label={label} tabIndex={0}
      sx={{ fontFamily: 'monospace', fontSize: 13, p: 1, m: 0, overflow: 'auto', maxHeight: 420, bgcolor: 'action.hover', borderRadius: 1 }}>
      {first > 1 && <Box component="span" sx={{ display: 'block', opacity: 0.7 }}>… {first - 1} lines before</Box>}
      {lines.slice(first - 1, last).map((l, i) => {
        const n = first + i;
        const hit = highlight === n;
        return (
          <Box key={n} component="span" ref={hit ? marked : undefined} data-line={n} aria-current={hit ? 'true' : undefined}
            sx={{ display: 'block', bgcolor: hit ? 'error.dark' : undefined, color: hit ? 'common.white' : undefined }}>
            <Box component="span" sx={{ display: 'inline-block', width: '4em', opacity: 0.7, userSelect: 'none' }}>{n}</Box>
            {l}
          </Box>
        );
      })}
      {last < lines.length && <Box component="span" sx={{ display: 'block', opacity: 0.7 }}>… {lines.length - last} lines after</Box>}
    </Box>
  );
}
