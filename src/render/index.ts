/**
 * Public API of src/render/ (except diff.ts, which is separate): one context builder and one
 * renderer per file, plus `*Files()` helpers that return every file of a component with its
 * remote path and mode. Pure apart from reading the packaged templates once.
 */
export { MANAGED_NOTICE, TEMPLATES, TEMPLATE_DIR, renderTemplate, type RenderedFile, type TemplateName } from './engine.js';
export * from './cluster.js';
export * from './host-prep.js';
export * from './etcd.js';
export * from './containerd.js';
export * from './cni.js';
export * from './k3s.js';
export * from './endpoint.js';
