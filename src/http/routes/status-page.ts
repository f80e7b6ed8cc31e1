// GET /status : the dashboard, from public/. Its assets are under /assets/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

// Resolves from src/ and dist/ alike: both sit one level below the package root.
export const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../public');

export async function statusPageRoute(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/assets/', index: false });
  app.get('/status', (_request, reply) => reply.sendFile('status.html'));
}
