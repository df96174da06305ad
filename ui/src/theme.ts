import type { ThemeOptions } from '@mui/material';

/** Docker Desktop gives its extensions its themes (window.__ddMuiV6Themes,
 * which @docker/docker-mui-theme reads). In a plain browser meshdock gives
 * its own, close to them: Docker's blue, its greys, its type. */
export const fallbackThemes: { light: ThemeOptions; dark: ThemeOptions } = {
  light: {
    palette: {
      mode: 'light',
      primary: { main: '#1d63ed', contrastText: '#ffffff' },
      secondary: { main: '#0b214a' },
      background: { default: '#ffffff', paper: '#ffffff' },
      text: { primary: '#0b214a', secondary: '#4b5a73' },
    },
    typography: { fontFamily: '"Roboto", "Helvetica Neue", Arial, sans-serif' },
    shape: { borderRadius: 4 },
  },
  dark: {
    palette: {
      mode: 'dark',
      primary: { main: '#6e9ff7', contrastText: '#0b0e14' },
      secondary: { main: '#b6c8ea' },
      background: { default: '#1e2227', paper: '#262b31' },
      text: { primary: '#f1f3f5', secondary: '#c2c8d0' },
    },
    typography: { fontFamily: '"Roboto", "Helvetica Neue", Arial, sans-serif' },
    shape: { borderRadius: 4 },
  },
};

/** provideThemes sets the fallback themes where Docker Desktop gave none. */
export function provideThemes() {
  const w = window as unknown as { __ddMuiV6Themes?: unknown };
  if (!w.__ddMuiV6Themes) w.__ddMuiV6Themes = fallbackThemes;
}
