import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Relative asset paths: the same build is served at / by meshdock serve
// and from the extension's ui/ folder by Docker Desktop.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: false, // scripts/clean-dist.mjs keeps the Go package's marker
    chunkSizeWarningLimit: 1500,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
