import { useEffect, useState } from 'react';
import {
  Box, Button, FormControl, InputLabel, List, MenuItem, Select, ListItem, ListItemButton, ListItemText, Stack, Table, TableBody, TableCell, TableHead, TableRow, Typography, useTheme,
} from '@mui/material';
import { useClient } from '../api/context';
import type { AppView, Deployment } from '../api/types';
import { Empty, ErrorAlert, Loading } from '../components/common';
import { TopologyGraph, type Overlay } from '../components/TopologyGraph';
import { saveBlob } from '../components/download';

type Manifest = { kind?: string; metadata?: { name?: string; namespace?: string } } & Record<string, unknown>;

/** AppScreen shows one app: its graph, its warnings, its manifests. */
export function AppScreen({ appId }: { appId: string | null }) {
  const client = useClient();
  const theme = useTheme();
  const [app, setApp] = useState<AppView | null>(null);
  const [manifests, setManifests] = useState<Manifest[] | null>(null);
  const [picked, setPicked] = useState(0);
  const [deployments, setDeployments] = useState<Deployment[]>([]);
  const [shown, setShown] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  useEffect(() => {
    if (!appId) return;
    setApp(null);
    setManifests(null);
    setError(null);
    setPicked(0);
    // An answer for an app that is no longer the one shown is dropped.
    let current = true;
    client.app(appId).then((a) => current && setApp(a), (e) => current && setError(e));
    client.manifests(appId).then((m) => current && setManifests(m as Manifest[]), (e) => current && setError(e));
    setShown('');
    // Deployments need the clusters, which a listener may not use: without
    // them the graph is the compose file's alone.
    client.deployments(appId).then((d) => current && setDeployments(d), () => current && setDeployments([]));
    return () => { current = false; };
  }, [client, appId]);
  if (!appId) return <Empty>No app yet: import one (the Import tab), and it shows here.</Empty>;
  if (error) return <ErrorAlert error={error} />;
  if (!app) return <Loading what="the app" />;
  const download = async (path: string, name: string, binary = false) => {
    setDownloadError(null);
    try {
      saveBlob(await client.download(path, binary), name);
    } catch (e) {
      setDownloadError(e); // said beside the buttons: the app stays shown
    }
  };
  const m = manifests?.[picked];
  return (
    <Stack spacing={3}>
      <Typography variant="h2" sx={{ fontSize: 22 }}>{app.name}</Typography>
      <section aria-labelledby="graph-title">
        <Stack direction="row" spacing={2} alignItems="center" sx={{ mb: 1 }}>
          <Typography id="graph-title" variant="h3" sx={{ fontSize: 18 }}>Topology</Typography>
          {deployments.length > 0 && (
            <FormControl size="small" sx={{ minWidth: 280 }}>
              <InputLabel id="overlay-label">Show on the graph</InputLabel>
              <Select labelId="overlay-label" label="Show on the graph" value={shown} onChange={(e) => setShown(e.target.value)}>
                <MenuItem value="">the compose file</MenuItem>
                {deployments.map((d) => (
                  <MenuItem key={d.id} value={d.id}>{d.namespace} ({d.options.mesh || 'none'}, authorization {d.options.authz || 'off'})</MenuItem>
                ))}
              </Select>
            </FormControl>
          )}
        </Stack>
        <TopologyGraph graph={app.graph} dark={theme.palette.mode === 'dark'} overlay={overlayOf(deployments.find((d) => d.id === shown))} />
      </section>
      <section aria-labelledby="warnings-title">
        <Typography id="warnings-title" variant="h3" sx={{ fontSize: 18, mb: 1 }}>Warnings ({app.warnings.length})</Typography>
        {app.warnings.length === 0 ? <Typography>Nothing was left out of the conversion.</Typography> : (
          <Table size="small" aria-label="Conversion warnings">
            <TableHead><TableRow><TableCell>Where</TableCell><TableCell>Service</TableCell><TableCell>Key</TableCell><TableCell>What</TableCell></TableRow></TableHead>
            <TableBody>
              {app.warnings.map((w, i) => (
                <TableRow key={i}>
                  <TableCell>{w.file ? `${w.file}${w.line ? `:${w.line}` : ''}` : ''}</TableCell>
                  <TableCell>{w.service}</TableCell>
                  <TableCell><code>{w.key}</code></TableCell>
                  <TableCell>{w.message}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </section>
      <section aria-labelledby="manifests-title">
        <Typography id="manifests-title" variant="h3" sx={{ fontSize: 18, mb: 1 }}>Manifests ({app.objects})</Typography>
        <Stack direction="row" spacing={1} sx={{ mb: 1 }}>
          <Button variant="outlined" onClick={() => download(`/apps/${app.id}/manifests?format=yaml`, `${app.name}.yaml`)}>Download YAML</Button>
          <Button variant="outlined" onClick={() => download(`/apps/${app.id}/export?format=kustomize&archive=tar`, `${app.name}-kustomize.tar.gz`, true)}>Download Kustomize</Button>
          <Button variant="outlined" onClick={() => download(`/apps/${app.id}/export?format=helm&archive=tar`, `${app.name}-helm.tar.gz`, true)}>Download Helm chart</Button>
        </Stack>
        <ErrorAlert error={downloadError} title="The download failed" />
        {!manifests ? <Loading what="the manifests" /> : (
          <Box sx={{ display: 'flex', gap: 2, alignItems: 'flex-start' }}>
            <List dense aria-label="Objects" sx={{ width: 280, maxHeight: 420, overflow: 'auto', border: 1, borderColor: 'divider' }}>
              {manifests.map((o, i) => (
                <ListItem key={i} disablePadding>
                  <ListItemButton selected={i === picked} onClick={() => setPicked(i)}>
                    <ListItemText primary={`${o.kind} ${o.metadata?.name ?? ''}`} />
                  </ListItemButton>
                </ListItem>
              ))}
            </List>
            <Box component="pre" tabIndex={0} aria-label={m ? `${m.kind} ${m.metadata?.name}` : 'object'}
              sx={{ flex: 1, m: 0, p: 1, maxHeight: 420, overflow: 'auto', fontSize: 12, bgcolor: 'action.hover', borderRadius: 1 }}>
              {m ? toYAML(m).trimStart() : ''}
            </Box>
          </Box>
        )}
      </section>
    </Stack>
  );
}

const overlays = new Map<string, Overlay>();

/** overlayOf is a deployment as the graph shows it (one object per
 * deployment, so the graph is laid out once). */
function overlayOf(d?: Deployment): Overlay | undefined {
  if (!d) return undefined;
  const key = `${d.options.mesh || 'none'}/${d.options.authz || 'off'}`;
  if (!overlays.has(key)) overlays.set(key, { mesh: d.options.mesh || 'none', authz: d.options.authz || 'off' });
  return overlays.get(key);
}

/** toYAML writes a JSON object as YAML for reading (the downloads are the
 * server's own YAML). */
export function toYAML(v: unknown, indent = ''): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v.map((x) => `\n${indent}- ${toYAML(x, indent + '  ').replace(/^\n\s*/, '')}`).join('');
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    return entries.map(([k, x]) => {
      const val = toYAML(x, indent + '  ');
      return `\n${indent}${k}:${val.startsWith('\n') ? val : ' ' + val}`;
    }).join('');
  }
  if (typeof v === 'string') return /^[\w./:-]+$/.test(v) && !/^(true|false|null|yes|no|on|off|[\d.]+)$/i.test(v) ? v : JSON.stringify(v);
  return String(v);
}
