import { Suspense, lazy, useCallback, useEffect, useState } from 'react';
import { Box, Container, FormControl, InputLabel, MenuItem, Select, Tab, Tabs, Typography } from '@mui/material';
import { useClient } from './api/context';
import type { AppSummary, AppView } from './api/types';
import { ErrorAlert, Loading } from './components/common';
import { ImportScreen } from './screens/ImportScreen';
import { AppScreen } from './screens/AppScreen';
import { DeployScreen } from './screens/DeployScreen';
// The charts load with the Benchmark screen, not with the page.
const BenchScreen = lazy(() => import('./screens/BenchScreen').then((m) => ({ default: m.BenchScreen })));

type Screen = 'import' | 'app' | 'deploy' | 'bench';
const screens: { id: Screen; label: string }[] = [
  { id: 'import', label: 'Import' },
  { id: 'app', label: 'App' },
  { id: 'deploy', label: 'Deploy' },
  { id: 'bench', label: 'Benchmark' },
];

function screenOf(hash: string): Screen | undefined {
  const s = hash.replace(/^#/, '');
  return screens.some((x) => x.id === s) ? (s as Screen) : undefined;
}

/** App is the page: the screens as tabs, and the app they are about. */
export function App() {
  const client = useClient();
  const [screen, setScreen] = useState<Screen>(() => screenOf(location.hash) ?? 'app');
  const [loaded, setLoaded] = useState(false);
  // Benchmark is mounted from its first visit on (its code loads then).
  const [benchSeen, setBenchSeen] = useState(false);
  useEffect(() => { if (screen === 'bench') setBenchSeen(true); }, [screen]);
  const [apps, setApps] = useState<AppSummary[]>([]);
  const [appId, setAppId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async (pick?: string) => {
    try {
      const list = await client.apps();
      setApps(list);
      setAppId((cur) => pick ?? (cur && list.some((a) => a.id === cur) ? cur : list[0]?.id ?? null));
      setError(null);
      setLoaded(true);
    } catch (e) {
      setError(e);
    }
  }, [client]);
  useEffect(() => { void load(); }, [load]);
  useEffect(() => {
    // Back, forward and links to #screen move between the screens.
    const onHash = () => {
      const s = screenOf(location.hash);
      if (s) setScreen(s);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  // With no app yet, and no screen asked for, the page opens on Import.
  useEffect(() => { if (loaded && !screenOf(location.hash) && apps.length === 0) setScreen('import'); }, [loaded, apps.length]);
  const go = (s: Screen) => {
    setScreen(s);
    if (location.hash !== `#${s}`) location.hash = s; // Back returns to the screen before
  };
  const imported = (a: AppView) => {
    void load(a.id);
    go('app');
  };
  return (
    <Container maxWidth="xl" sx={{ py: 2 }}>
      <Box component="header" sx={{ display: 'flex', alignItems: 'center', gap: 2, flexWrap: 'wrap' }}>
        <Typography variant="h1" sx={{ fontSize: 26, fontWeight: 600 }}>meshdock</Typography>
        <Typography variant="body2" sx={{ flex: 1 }}>Your compose app on Kubernetes, on a service mesh, measured.</Typography>
        <FormControl size="small" sx={{ minWidth: 240 }}>
          <InputLabel id="app-label">App</InputLabel>
          <Select labelId="app-label" label="App" value={appId ?? ''} onChange={(e) => setAppId(e.target.value || null)} displayEmpty>
            {apps.length === 0 && <MenuItem value="">No app yet</MenuItem>}
            {apps.map((a) => <MenuItem key={a.id} value={a.id}>{a.name} ({a.services} services)</MenuItem>)}
          </Select>
        </FormControl>
      </Box>
      <Box component="nav" sx={{ borderBottom: 1, borderColor: 'divider', mt: 1 }}>
        <Tabs value={screen} onChange={(_, v: Screen) => go(v)} aria-label="Screens">
          {screens.map((s) => <Tab key={s.id} value={s.id} label={s.label} id={`tab-${s.id}`} aria-controls="screen" />)}
        </Tabs>
      </Box>
      <ErrorAlert error={error} title="The meshdock server" />
      <Box component="main" sx={{ pt: 2 }}>
        <Box id="screen" role="tabpanel" aria-labelledby={`tab-${screen}`}>
        {screen === 'import' && <ImportScreen onImported={imported} />}
        {screen === 'app' && <AppScreen appId={appId} />}
        {/* Deploy and Benchmark stay mounted: their running work (its
            live log and chart) is there when the user comes back. */}
        <Box hidden={screen !== 'deploy'}><DeployScreen appId={appId} /></Box>
        <Box hidden={screen !== 'bench'}>
          {benchSeen && <Suspense fallback={<Loading what="the Benchmark screen" />}><BenchScreen /></Suspense>}
        </Box>
        </Box>
      </Box>
    </Container>
  );
}
