// Entry of dist/engine.js: what the extension loads on first use (see
// esbuild.js and src/extension/host/engineHost.ts), the one way the face
// reaches the engine at run time.
export * from './engine';
