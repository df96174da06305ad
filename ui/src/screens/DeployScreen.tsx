import { useCallback, useEffect, useState } from 'react';
import {
  Box, Button, Chip, FormControl, InputLabel, Link, MenuItem, Select, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography,
} from '@mui/material';
import { useClient } from '../api/context';
import type { ClusterInfo, Deployment, MeshStatus } from '../api/types';
import { Empty, ErrorAlert, Loading } from '../components/common';
import { OperationLog } from '../components/OperationLog';

export const meshNames = ['none', 'istio', 'istio-ambient', 'linkerd', 'consul', 'kuma'];

/** DeployScreen deploys the app into a cluster, onto a mesh. */
export function DeployScreen({ appId }: { appId: string | null }) {
  const client = useClient();
  const [clusters, setClusters] = useState<ClusterInfo[] | null>(null);
  const [context, setContext] = useState('');
  const [meshes, setMeshes] = useState<MeshStatus[] | null>(null);
  const [mesh, setMesh] = useState('none');
  const [authz, setAuthz] = useState('off');
  const [namespace, setNamespace] = useState('');
  const [deployments, setDeployments] = useState<Deployment[]>([]);
  const [ops, setOps] = useState<{ id: string; title: string }[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const loadClusters = useCallback(() => {
    client.clusters().then((cs) => {
      setClusters(cs);
      const cur = cs.find((c) => c.current) ?? cs[0];
      if (cur) setContext(cur.context);
    }, (e) => { setError(e); setClusters([]); });
  }, [client]);
  useEffect(loadClusters, [loadClusters]);
  const hostKubeconfig = async () => {
    setError(null);
    try {
      await client.useHostKubeconfig();
      loadClusters();
    } catch (e) {
      setError(e);
    }
  };
  const loadMeshes = useCallback(() => {
    if (!context) return;
    setMeshes(null);
    client.meshes(context).then(setMeshes, (e) => { setError(e); setMeshes([]); });
  }, [client, context]);
  useEffect(loadMeshes, [loadMeshes]);
  const loadDeployments = useCallback(() => {
    if (appId) client.deployments(appId).then(setDeployments, setError);
  }, [client, appId]);
  useEffect(loadDeployments, [loadDeployments]);

  if (!appId) return <Empty>Import an app first (the Import tab), then deploy it here.</Empty>;
  if (clusters === null) return <Loading what="the clusters" />;
  const installed = (m: string) => m === 'none' || meshes?.find((s) => s.name === m)?.installed;
  const run = async (f: () => Promise<{ id: string; title: string }>) => {
    if (busy) return;
    setError(null);
    setBusy(true);
    try {
      const op = await f();
      setOps((cur) => [op, ...cur]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack spacing={2}>
      <Typography variant="h2" sx={{ fontSize: 22 }}>Deploy</Typography>
      <ErrorAlert error={error} />
      {client.host && (
        <Box><Button variant="outlined" onClick={hostKubeconfig}>Use this computer's kubeconfig</Button></Box>
      )}
      {clusters.length === 0 ? <Empty>No cluster is configured: enable Kubernetes in Docker Desktop, or start kind, k3d or minikube.</Empty> : (
        <Stack direction="row" spacing={2} useFlexGap flexWrap="wrap">
          <FormControl size="small" sx={{ minWidth: 260 }}>
            <InputLabel id="cluster-label">Cluster</InputLabel>
            <Select labelId="cluster-label" label="Cluster" value={context} onChange={(e) => setContext(e.target.value)}>
              {clusters.map((c) => (
                <MenuItem key={c.context} value={c.context}>
                  {c.context} {c.reachable ? `(${c.kind} ${c.version ?? ''})` : `(unreachable: ${c.reason ?? ''})`}
                </MenuItem>
              ))}
            </Select>
          </FormControl>
          <FormControl size="small" sx={{ minWidth: 200 }}>
            <InputLabel id="mesh-label">Mesh</InputLabel>
            <Select labelId="mesh-label" label="Mesh" value={mesh} onChange={(e) => setMesh(e.target.value)}>
              {meshNames.map((m) => (
                <MenuItem key={m} value={m}>{m}{m !== 'none' && meshes ? (installed(m) ? ' (installed)' : ' (not installed)') : ''}</MenuItem>
              ))}
            </Select>
          </FormControl>
          <FormControl size="small" sx={{ minWidth: 160 }}>
            <InputLabel id="authz-label">Authorization</InputLabel>
            <Select labelId="authz-label" label="Authorization" value={authz} onChange={(e) => setAuthz(e.target.value)}>
              <MenuItem value="off">off</MenuItem>
              <MenuItem value="audit">audit</MenuItem>
              <MenuItem value="enforce">enforce</MenuItem>
            </Select>
          </FormControl>
          <TextField size="small" label="Namespace (optional)" value={namespace} onChange={(e) => setNamespace(e.target.value)} />
        </Stack>
      )}
      {clusters.length > 0 && (
        <Stack direction="row" spacing={1}>
          {mesh !== 'none' && meshes && !installed(mesh) && (
            <Button variant="outlined" disabled={busy} onClick={() => run(async () => ({ id: (await client.installMesh(mesh, context)).id, title: `Install ${mesh}` }))}>
              Install {mesh}
            </Button>
          )}
          <Button variant="contained" disabled={!context || busy} onClick={() => run(async () => {
            const r = await client.deploy(appId, { context, namespace: namespace || undefined, options: { mesh, authz } });
            return { id: r.operation.id, title: `Deploy into ${r.deployment.namespace} (${mesh})` };
          })}>Deploy</Button>
        </Stack>
      )}
      {ops.map((o) => (
        <OperationLog key={o.id} opId={o.id} title={o.title} onEnd={() => { loadDeployments(); loadMeshes(); }} />
      ))}
      <section aria-labelledby="deployments-title">
        <Typography id="deployments-title" variant="h3" sx={{ fontSize: 18 }}>Deployments</Typography>
        {deployments.length === 0 ? <Typography>Not deployed yet.</Typography> : (
          <Table size="small" aria-label="Deployments">
            <TableHead><TableRow><TableCell>Namespace</TableCell><TableCell>Mesh</TableCell><TableCell>State</TableCell><TableCell>Workloads</TableCell><TableCell>URLs</TableCell><TableCell /></TableRow></TableHead>
            <TableBody>
              {deployments.map((d) => (
                <TableRow key={d.id}>
                  <TableCell>{d.namespace}</TableCell>
                  <TableCell>{d.options.mesh || 'none'}</TableCell>
                  <TableCell><Chip size="small" label={d.state} color={d.state === 'deployed' ? 'success' : d.state === 'failed' ? 'error' : 'default'} /></TableCell>
                  <TableCell>{d.workloads.map((w) => `${w.name} ${w.ready}/${w.desired}`).join(', ')}</TableCell>
                  <TableCell>
                    {d.urls.map((u) => u.url && /^https?:\/\//.test(u.url) ? <Box key={u.service + u.port}><Link href={u.url} target="_blank" rel="noreferrer">{u.service}:{u.port}</Link></Box>
                      : <Box key={u.service + u.port}>{u.service}:{u.port} {u.error ?? ''}</Box>)}
                  </TableCell>
                  <TableCell>
                    <Button size="small" color="error" disabled={busy} aria-label={`Delete the deployment in ${d.namespace}`}
                      onClick={() => run(async () => ({ id: (await client.deleteDeployment(appId, d.id)).operation.id, title: `Delete ${d.namespace}` }))}>Delete</Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </section>
    </Stack>
  );
}
