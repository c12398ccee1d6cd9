import { DataSource } from 'typeorm';
import { ENTITIES } from './entities/all-entities';
import { MIGRATIONS } from './migrations/all-migrations';

export interface DataSourceOptions {
  /** PostgreSQL schema for every table (created by `runMigrations`); default: the server's search_path. */
  readonly schema?: string;
  readonly logging?: boolean;
  /** Pool size (pg `max`); default 10. */
  readonly poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a schema name before it goes into SQL text (identifiers cannot be bound parameters). */
export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name: ${schema}`);
}

/**
 * A (not yet initialized) TypeORM data source for Jetflow's tables. Never synchronizes: the schema
 * comes from the checked-in migrations (`runMigrations`).
 */
export function createDataSource(url: string, opts: DataSourceOptions = {}): DataSource {
  if (opts.schema) assertSchemaName(opts.schema);
  return new DataSource({
    type: 'postgres',
    url,
    schema: opts.schema,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'jetflow_migrations',
    synchronize: false,
    migrationsRun: false,
    installExtensions: false,
    logging: opts.logging ?? false,
    poolSize: opts.poolSize,
    // Migrations are hand-written SQL with unqualified names: point search_path at the schema.
    extra: opts.schema ? { options: `-c search_path=${opts.schema}` } : undefined,
  });
}
