import { useEffect, useRef, useState, type DragEvent } from 'react';
import {
  Box, Button, Card, CardActions, CardContent, Chip, Stack, Tab, Tabs, TextField, Typography,
} from '@mui/material';
import { useClient } from '../api/context';
import type { AppView, ComposeProject, FileUpload } from '../api/types';
import { Empty, ErrorAlert, Loading, Source, lineOf, messageOf } from '../components/common';

/** The largest file the page reads (the server's own limit is 1 MiB). */
export const maxFileSize = 1 << 20;

type Mode = 'upload' | 'paste' | 'running';

/** ImportScreen brings a compose app in: files, pasted YAML, or a compose
 * project running in Docker now. */
export function ImportScreen({ onImported }: { onImported: (app: AppView) => void }) {
  const [mode, setMode] = useState<Mode>('upload');
  return (
    <Box>
      <Typography variant="h2" sx={{ fontSize: 22, mb: 1 }}>Import a compose app</Typography>
      <Tabs value={mode} onChange={(_, v: Mode) => setMode(v)} aria-label="How to import">
        <Tab value="upload" label="Upload files" id="import-upload" aria-controls="import-panel" />
        <Tab value="paste" label="Paste YAML" id="import-paste" aria-controls="import-panel" />
        <Tab value="running" label="Running projects" id="import-running" aria-controls="import-panel" />
      </Tabs>
      <Box id="import-panel" role="tabpanel" aria-labelledby={`import-${mode}`} sx={{ pt: 2 }}>
        {mode === 'upload' && <Upload onImported={onImported} />}
        {mode === 'paste' && <Paste onImported={onImported} />}
        {mode === 'running' && <Running onImported={onImported} />}
      </Box>
    </Box>
  );
}

function textOf(f: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result ?? ''));
    r.onerror = () => reject(new Error(`${f.name} cannot be read`));
    r.readAsText(f);
  });
}

/** projectPath is a file's path in the project: a chosen or dropped
 * folder's files keep their place under it (the folder's own name left
 * out), so compose.yaml finds secrets/db.txt as it names it. */
export function projectPath(f: File & { webkitRelativePath?: string; projectPath?: string }): string {
  const rel = f.projectPath || f.webkitRelativePath || '';
  if (!rel.includes('/')) return f.name;
  return rel.split('/').slice(1).join('/');
}

/** droppedFiles reads what was dropped, folders walked. */
async function droppedFiles(dt: DataTransfer): Promise<File[]> {
  type Entry = { isFile: boolean; isDirectory: boolean; fullPath: string; file?: (ok: (f: File) => void, bad: (e: unknown) => void) => void;
    createReader?: () => { readEntries: (ok: (es: Entry[]) => void, bad: (e: unknown) => void) => void } };
  const entries = Array.from(dt.items ?? []).map((i) => (i as DataTransferItem & { webkitGetAsEntry?: () => Entry | null }).webkitGetAsEntry?.()).filter(Boolean) as Entry[];
  if (entries.length === 0) return Array.from(dt.files);
  const out: File[] = [];
  const walk = async (e: Entry, depth: number): Promise<void> => {
    if (out.length > 500 || depth > 12) throw new Error('the folder holds too many files (at most 500 are read)');
    if (e.isFile && e.file) {
      const f = await new Promise<File>((ok, bad) => e.file!(ok, bad));
      Object.defineProperty(f, 'projectPath', { value: e.fullPath.replace(/^\//, '') });
      out.push(f);
    } else if (e.isDirectory && e.createReader) {
      const reader = e.createReader();
      for (;;) {
        const batch = await new Promise<Entry[]>((ok, bad) => reader.readEntries(ok, bad));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c, depth + 1);
      }
    }
  };
  for (const e of entries) await walk(e, 0);
  return out;
}

/** readFiles reads picked or dropped files as text, refusing one over the
 * limit before anything is sent. */
export async function readFiles(list: FileList | File[]): Promise<FileUpload[]> {
  const out: FileUpload[] = [];
  for (const f of Array.from(list)) {
    if (f.size > maxFileSize) {
      throw new Error(`${f.name} is ${(f.size / 1048576).toFixed(1)} MiB: a file may be at most 1 MiB`);
    }
    out.push({ name: projectPath(f), content: await textOf(f) });
  }
  return out;
}

function Upload({ onImported }: { onImported: (app: AppView) => void }) {
  const client = useClient();
  const input = useRef<HTMLInputElement>(null);
  const folder = useRef<HTMLInputElement>(null);
  const [files, setFiles] = useState<FileUpload[]>([]);
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  const add = async (list: FileList | File[]) => {
    setError(null);
    try {
      const read = await readFiles(list);
      setFiles((cur) => [...cur.filter((f) => !read.some((r) => r.name === f.name)), ...read]);
    } catch (e) {
      setError(e);
    }
  };
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    droppedFiles(e.dataTransfer).then(add, setError);
  };
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      onImported(await client.importApp({ name: name || undefined, files }));
      setFiles([]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const failed = error ? messageOf(error) : '';
  const badFile = files.find((f) => failed.includes(f.name));
  return (
    <Stack spacing={2}>
      <Box onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)} onDrop={drop}
        sx={{ p: 3, border: 2, borderStyle: 'dashed', borderColor: over ? 'primary.main' : 'divider', borderRadius: 1, textAlign: 'center' }}>
        <Typography>Drop compose files here (compose.yaml, overrides, .env, the files they name), or</Typography>
        <Stack direction="row" spacing={1} justifyContent="center" sx={{ mt: 1 }}>
          <Button variant="outlined" onClick={() => input.current?.click()}>Choose files</Button>
          <Button variant="outlined" onClick={() => folder.current?.click()}>Choose a folder</Button>
        </Stack>
        <input ref={input} type="file" multiple hidden aria-label="Compose files" data-testid="file-input"
          onChange={(e) => { if (e.target.files) void add(e.target.files); e.target.value = ''; }} />
        <input ref={folder} type="file" hidden aria-label="Project folder" data-testid="folder-input"
          {...{ webkitdirectory: '', directory: '' }}
          onChange={(e) => { if (e.target.files) { setFiles([]); void add(e.target.files); } e.target.value = ''; }} />
      </Box>
      {files.length > 0 && (
        <Stack direction="row" spacing={1} useFlexGap flexWrap="wrap" aria-label="Files to import">
          {files.map((f) => (
            <Chip key={f.name} label={`${f.name} (${f.content.length} B)`} onDelete={() => setFiles(files.filter((x) => x !== f))} />
          ))}
        </Stack>
      )}
      <TextField label="Project name (optional)" value={name} onChange={(e) => setName(e.target.value)} size="small" sx={{ maxWidth: 360 }} />
      <Box>
        <Button variant="contained" disabled={busy || files.length === 0} onClick={submit}>{busy ? 'Importing…' : 'Import'}</Button>
      </Box>
      <ErrorAlert error={error} title="The app was not imported" />
      {badFile && <Source label={`${badFile.name}, the line the error names`} text={badFile.content} highlight={lineOf(failed)} />}
    </Stack>
  );
}

function Paste({ onImported }: { onImported: (app: AppView) => void }) {
  const client = useClient();
  const [yaml, setYaml] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      onImported(await client.importApp({ name: name || undefined, files: [{ name: 'compose.yaml', content: yaml }] }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const line = error ? lineOf(messageOf(error)) : undefined;
  return (
    <Stack spacing={2}>
      <TextField label="compose.yaml" multiline minRows={10} value={yaml} onChange={(e) => setYaml(e.target.value)}
        inputProps={{ spellCheck: false, style: { fontFamily: 'monospace', fontSize: 13 } }} />
      <TextField label="Project name (optional)" value={name} onChange={(e) => setName(e.target.value)} size="small" sx={{ maxWidth: 360 }} />
      <Box>
        <Button variant="contained" disabled={busy || yaml.trim() === ''} onClick={submit}>{busy ? 'Importing…' : 'Import'}</Button>
      </Box>
      <ErrorAlert error={error} title="The app was not imported" />
      {line !== undefined && <Source label="compose.yaml, the line the error names" text={yaml} highlight={line} />}
    </Stack>
  );
}

function Running({ onImported }: { onImported: (app: AppView) => void }) {
  const client = useClient();
  const [projects, setProjects] = useState<ComposeProject[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState('');
  const load = () => {
    setError(null);
    setProjects(null);
    client.composeProjects().then(setProjects, (e) => { setError(e); setProjects([]); });
  };
  useEffect(load, [client]);
  const pick = async (p: ComposeProject) => {
    setBusy(p.name);
    setError(null);
    try {
      onImported(await client.importProject(p));
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  if (projects === null) return <Loading what="the compose projects running in Docker" />;
  return (
    <Stack spacing={2}>
      <ErrorAlert error={error} />
      {projects.length === 0 && !error && <Empty>No compose project runs in Docker right now: start one with docker compose up, then refresh.</Empty>}
      {projects.map((p) => (
        <Card key={p.name} variant="outlined">
          <CardContent>
            <Typography variant="h3" sx={{ fontSize: 18 }}>{p.name} <Chip size="small" label={p.state} /></Typography>
            {p.disputed && (
              <Typography variant="body2" color="text.secondary">
                Its containers name different folders or files, so its own cannot be told: it is rebuilt from its containers.
              </Typography>
            )}
            {p.workingDir && (
              <Typography variant="body2" color="text.secondary" sx={{ overflowWrap: 'anywhere' }}>
                From {p.workingDir}{p.configFiles?.length ? `: ${p.configFiles.map((f) => f.startsWith(p.workingDir + '/') || f.startsWith(p.workingDir + '\\') ? f.slice(p.workingDir!.length + 1) : f).join(', ')}` : ''}
              </Typography>
            )}
            <Typography variant="body2" component="ul" sx={{ pl: 2, mb: 0 }}>
              {p.services.map((s) => (
                <li key={s.name}>{s.name}: {s.image} ({s.containers.map((c) => c.state).join(', ') || 'no container'})</li>
              ))}
            </Typography>
          </CardContent>
          <CardActions>
            <Button onClick={() => pick(p)} disabled={busy !== ''} aria-label={`Import ${p.name}`}>{busy === p.name ? 'Importing…' : 'Import'}</Button>
          </CardActions>
        </Card>
      ))}
      <Box><Button onClick={load}>Refresh</Button></Box>
    </Stack>
  );
}
