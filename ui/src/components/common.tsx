import { Alert, Box, CircularProgress, Typography } from '@mui/material';
import type { ReactNode } from 'react';
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

/** Source shows text with line numbers, one line highlighted. */
export function Source({ text, highlight, label }: { text: string; highlight?: number; label: string }) {
  const lines = text.split('\n');
  return (
    <Box component="pre" aria-label={label} tabIndex={0}
      sx={{ fontFamily: 'monospace', fontSize: 13, p: 1, m: 0, overflow: 'auto', maxHeight: 420, bgcolor: 'action.hover', borderRadius: 1 }}>
      {lines.map((l, i) => (
        <Box key={i} component="span" data-line={i + 1} aria-current={highlight === i + 1 ? 'true' : undefined}
          sx={{ display: 'block', bgcolor: highlight === i + 1 ? 'error.dark' : undefined, color: highlight === i + 1 ? '#ffffff' : undefined }}>
          <Box component="span" sx={{ display: 'inline-block', width: '3em', opacity: 0.7, userSelect: 'none' }}>{i + 1}</Box>
          {l}
        </Box>
      ))}
    </Box>
  );
}
