import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import { TestDatabase } from '../../../test/support/postgres';
import type { ProjectionEntry } from './execution-patch';
import { ExecutionsProjection } from './executions.projection';
import { completed, started, statusChanged } from './testing/execution-events.fixture';

const X = '11111111-1111-4111-8111-111111111111';
const Y = '33333333-3333-4333-8333-333333333333';
const W = '22222222-2222-4222-8222-222222222222';
const scope = { organization_id: 'o', project_id: 'p' };

const log: ProjectionEntry[] = [
  { seq: 1, executionId: X, events: [started({ execution_id: X, workflow_id: W, scope, at: '2026-01-01T00:00:00.000Z' })] },
  { seq: 2, executionId: Y, events: [started({ execution_id: Y, workflow_id: W, scope, at: '2026-01-01T00:00:00.500Z', version: 2 })] },
  { seq: 3, executionId: X, events: [statusChanged('waiting', '2026-01-01T00:00:01.000Z')] },
  { seq: 4, executionId: X, events: [statusChanged('running', '2026-01-01T00:00:02.000Z')] },
  { seq: 5, executionId: Y, events: [completed('timeout', '2026-01-01T00:00:02.500Z', 'TIMEOUT')] },
  { seq: 6, executionId: X, events: [completed('completed', '2026-01-01T00:00:03.000Z')] },
  { seq: 7, executionId: 'not-a-uuid', events: [statusChanged('running', '2026-01-01T00:00:04.000Z')] },
];

describe('ExecutionsProjection (Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const projection = new ExecutionsProjection({ checkpointName: 'test', clock: () => new Date('2026-02-01T00:00:00Z') });

  const rows = () => ds.query(`SELECT *, xmin::text AS xmin FROM executions ORDER BY id`);
  const apply = (entries: ProjectionEntry[]) => ds.transaction((m) => projection.apply(m, entries));
  const reset = () => ds.query(`TRUNCATE executions, projection_checkpoints`);

  beforeAll(async () => {
    db = await TestDatabase.create();
    await runMigrations(db.url);
    ds = await createDataSource(db.url).initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('folds the log into rows and writes the checkpoint', async () => {
    await apply(log.slice(0, 3));
    await apply(log.slice(3));
    const r = await ds.query(`SELECT id, organization_id, project_id, workflow_id, workflow_version, status, started_at, completed_at, updated_at, error_code, last_seq FROM executions ORDER BY id`);
    expect(r).toEqual([
      {
        id: X, organization_id: 'o', project_id: 'p', workflow_id: W, workflow_version: 1, status: 'completed',
        started_at: new Date('2026-01-01T00:00:00.000Z'), completed_at: new Date('2026-01-01T00:00:03.000Z'),
        updated_at: new Date('2026-01-01T00:00:03.000Z'), error_code: null, last_seq: '6',
      },
      {
        id: Y, organization_id: 'o', project_id: 'p', workflow_id: W, workflow_version: 2, status: 'timeout',
        started_at: new Date('2026-01-01T00:00:00.500Z'), completed_at: new Date('2026-01-01T00:00:02.500Z'),
        updated_at: new Date('2026-01-01T00:00:02.500Z'), error_code: 'TIMEOUT', last_seq: '5',
      },
    ]);
    await expect(ds.transaction((m) => projection.checkpoint(m))).resolves.toBe(7);
  });

  it('re-applying old entries changes nothing (not even a row version)', async () => {
    const before = await rows();
    await apply(log);
    await apply(log.slice(0, 2));
    await apply([log[2]!]);
    expect(await rows()).toEqual(before);
    await expect(ds.transaction((m) => projection.checkpoint(m))).resolves.toBe(7);
  });

  it('gives identical rows whatever order batches commit in', async () => {
    const strip = (rs: Record<string, unknown>[]) => rs.map(({ xmin: _x, ...r }) => r);
    const expected = strip(await rows());
    for (const order of [[...log].reverse(), [log[5]!, log[2]!, log[0]!, log[4]!, log[3]!, log[1]!]]) {
      await reset();
      for (const entry of order) await apply([entry]);
      expect(strip(await rows())).toEqual(expected);
    }
  });

  it('rolls back rows and checkpoint together', async () => {
    await reset();
    await expect(
      ds.transaction(async (m) => {
        await projection.apply(m, log);
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash');
    expect(await rows()).toEqual([]);
    await expect(ds.transaction((m) => projection.checkpoint(m))).resolves.toBe(0);
  });

  it('a NUL (or lone surrogate) in a projected string is replaced, not a failed batch', async () => {
    await reset();
    const Z = '44444444-4444-4444-8444-444444444444';
    await apply([
      { seq: 1, executionId: Z, events: [started({ execution_id: Z, workflow_id: W, scope: { organization_id: 'o\u0000', project_id: 'p\ud800' }, at: '2026-01-01T00:00:00.000Z' })] },
      { seq: 2, executionId: Z, events: [completed('failed\u0000' as never, '2026-01-01T00:00:01.000Z', 'BAD\u0000CODE' as never)] },
      ...log.slice(0, 2),
    ]);
    const [row] = await ds.query(`SELECT organization_id, project_id, status, error_code FROM executions WHERE id = $1`, [Z]);
    expect(row).toEqual({ organization_id: 'o\ufffd', project_id: 'p\ufffd', status: 'failed\ufffd', error_code: 'BAD\ufffdCODE' });
    expect(await ds.query(`SELECT count(*)::int AS n FROM executions`)).toEqual([{ n: 3 }]);
    await expect(ds.transaction((m) => projection.checkpoint(m))).resolves.toBe(2);
  });
});
