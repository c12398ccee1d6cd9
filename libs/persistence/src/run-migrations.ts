import { runMigrations } from './migrations.runner';

/**
 * Script entry: `node dist/libs/persistence/src/run-migrations.js [postgres-url]`
 * (falls back to DATABASE_URL, and DATABASE_SCHEMA for an optional schema). The only place in
 * libs/persistence that reads the environment.
 */
async function main(): Promise<void> {
  const url = process.argv[2] ?? process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write('usage: run-migrations <postgres-url> (or set DATABASE_URL)\n');
    process.exit(2);
  }
  await runMigrations(url, { schema: process.env.DATABASE_SCHEMA || undefined });
  process.stdout.write('migrations applied\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`migrations failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
