import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { CssBaseline } from '@mui/material';
import { DockerMuiV6ThemeProvider } from '@docker/docker-mui-theme';
import { createDockerDesktopClient } from '@docker/extension-api-client';
import { App } from './App';
import { ApiClient } from './api/client';
import { ClientContext } from './api/context';
import { desktopHost, desktopTransport, fetchTransport, type DesktopService } from './api/transport';
import { provideThemes } from './theme';

/** The client of the page: Docker Desktop's extension client inside its
 * tab, the page's own server otherwise. */
function pageClient(): ApiClient {
  if ((window as unknown as { ddClient?: unknown }).ddClient) {
    const dd = createDockerDesktopClient();
    const host = dd.extension.host?.cli ? desktopHost(dd.extension.host.cli) : undefined;
    return new ApiClient(desktopTransport(dd.extension.vm?.service as unknown as DesktopService), host);
  }
  return new ApiClient(fetchTransport());
}

provideThemes();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <DockerMuiV6ThemeProvider>
      <CssBaseline />
      <ClientContext.Provider value={pageClient()}>
        <App />
      </ClientContext.Provider>
    </DockerMuiV6ThemeProvider>
  </StrictMode>,
);
