// Resolves `@jetflow/<lib>` to the compiled `libs/<lib>/src` next to this file (tsc keeps path
// aliases as written). Imported first by the benchmarks, for a plain `node` run.
import Module from 'node:module';
import { join, resolve } from 'node:path';

const libsRoot = resolve(__dirname, '../../..');
type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;
mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  if (request.startsWith('@jetflow/')) request = join(libsRoot, request.slice('@jetflow/'.length), 'src', 'index.js');
  return original.call(this, request, ...rest);
};
