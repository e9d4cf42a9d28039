import { defineConfig } from "vitest/config";

// No @vitejs/plugin-react: Vite transforms .tsx itself (automatic JSX runtime), which is all a
// production build needs. The station backend serves dist/ at "/" with an SPA fallback, so the
// base is "/" and the app routes with the URL hash.
export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 2500,
    rolldownOptions: {
      // Two apps, one build: the station UI (index.html) and the portal UI (portal.html).
      input: { index: "index.html", portal: "portal.html" },
      // Cloudscape marks its modules "use client" (for React Server Components); meaningless in an SPA.
      onwarn(warning, defaultHandler) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        defaultHandler(warning);
      },
      output: {
        // Cloudscape + React change far less often than the pages: a separate chunk caches well.
        advancedChunks: {
          groups: [{ name: "vendor", test: /node_modules/ }],
        },
      },
    },
  },
  server: {
    // `npm run dev` proxies the API to a station on the default port.
    proxy: { "/api": "http://127.0.0.1:5000" },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
