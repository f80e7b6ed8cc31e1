// GET /status : the dashboard, from public/. Its assets are under /assets/, and
// uPlot's build under /assets/vendor/uplot/, straight from node_modules: the
// page works on a machine that reaches no CDN, and the chart library's version
// is the one package.json pins.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

// Resolves from src/ and dist/ alike: both sit one level below the package root.
export const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../public');
// uplot's main entry is dist/uPlot.cjs.js, next to the browser builds we serve.
export const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve('uplot'));

export async function statusPageRoute(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/assets/', index: false });
  // A second root must not decorate the reply again (sendFile stays public/'s).
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/assets/vendor/uplot/',
    index: false,
    decorateReply: false,
    // Only the two files the page loads, not the CommonJS and ESM builds.
    allowedPath: (pathName) => pathName === '/uPlot.iife.min.js' || pathName === '/uPlot.min.css',
  });
  app.get('/status', (_request, reply) => reply.sendFile('status.html'));
}
