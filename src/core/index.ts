// Entry of dist/engine.js: what the extension loads on first use (see esbuild.js).
export * from './engine';
export * from './appData/appData';
