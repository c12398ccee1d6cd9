// Resolves `@jetflow/<lib>` to the compiled `dist/libs/<lib>/src` at run time (tsc keeps path aliases as written).
import Module from 'node:module';
import { join, resolve } from 'node:path';

const libsRoot = resolve(__dirname, '../../../libs');
type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;
mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  if (request.startsWith('@jetflow/')) request = join(libsRoot, request.slice('@jetflow/'.length), 'src', 'index.js');
  return original.call(this, request, ...rest);
};
