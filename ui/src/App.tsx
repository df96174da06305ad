import { useCallback, useEffect, useState } from 'react';
import { Box, Container, FormControl, InputLabel, MenuItem, Select, Tab, Tabs, Typography } from '@mui/material';
import { useClient } from './api/context';
import type { AppSummary, AppView } from './api/types';
import { ErrorAlert } from './components/common';
import { ImportScreen } from './screens/ImportScreen';
import { AppScreen } from './screens/AppScreen';
import { DeployScreen } from './screens/DeployScreen';
import { BenchScreen } from './screens/BenchScreen';

type Screen = 'import' | 'app' | 'deploy' | 'bench';
const screens: { id: Screen; label: string }[] = [
  { id: 'import', label: 'Import' },
  { id: 'app', label: 'App' },
  { id: 'deploy', label: 'Deploy' },
  { id: 'bench', label: 'Benchmark' },
];

/** App is the page: the screens as tabs, and the app they are about. */
export function App() {
  const client = useClient();
  const [screen, setScreen] = useState<Screen>(() => (location.hash.slice(1) as Screen) || 'app');
  const [apps, setApps] = useState<AppSummary[]>([]);
  const [appId, setAppId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async (pick?: string) => {
    try {
      const list = await client.apps();
      setApps(list);
      setAppId((cur) => pick ?? (cur && list.some((a) => a.id === cur) ? cur : list[0]?.id ?? null));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [client]);
  useEffect(() => { void load(); }, [load]);
  useEffect(() => {
    // Back, forward and links to #screen move between the screens.
    const onHash = () => {
      const s = location.hash.slice(1) as Screen;
      if (screens.some((x) => x.id === s)) setScreen(s);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => { if (!location.hash && apps.length === 0) setScreen('import'); }, [apps.length]);
  const go = (s: Screen) => {
    setScreen(s);
    history.replaceState(null, '', `#${s}`);
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
        {screen === 'deploy' && <DeployScreen appId={appId} />}
        {screen === 'bench' && <BenchScreen />}
        </Box>
      </Box>
    </Container>
  );
}
