import { assertSchemaName, createDataSource, type DataSourceOptions } from './data-source.factory';

/** Key of the session advisory lock that serializes migration runs within one database. */
const MIGRATIONS_LOCK_KEY = 74_210_001;

/**
 * Applies pending migrations. Safe to call from N processes at once: a PostgreSQL advisory lock
 * (per database) lets one run while the others wait, then find nothing left to do.
 */
export async function runMigrations(url: string, opts: Pick<DataSourceOptions, 'schema' | 'logging'> = {}): Promise<void> {
  if (opts.schema) assertSchemaName(opts.schema);
  const dataSource = createDataSource(url, { ...opts, poolSize: 2 });
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATIONS_LOCK_KEY]);
    try {
      if (opts.schema) await lock.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATIONS_LOCK_KEY]);
    }
  } finally {
    await lock.release();
    await dataSource.destroy();
  }
}
