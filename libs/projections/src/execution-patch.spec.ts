import { foldPatches, type ProjectionEntry } from './execution-patch';
import { completed, started, statusChanged, stepStarted } from './testing/execution-events.fixture';

const X = '11111111-1111-4111-8111-111111111111';
const W = '22222222-2222-4222-8222-222222222222';
const scope = { organization_id: 'o', project_id: 'p' };

describe('foldPatches', () => {
  const entries: ProjectionEntry[] = [
    { seq: 3, executionId: X, events: [started({ execution_id: X, workflow_id: W, scope, at: '2026-01-01T00:00:00.000Z' }), stepStarted('a', '2026-01-01T00:00:00.000Z')] },
    { seq: 7, executionId: X, events: [statusChanged('waiting', '2026-01-01T00:00:01.000Z')] },
    { seq: 9, executionId: X, events: [statusChanged('running', '2026-01-01T00:00:02.000Z'), completed('failed', '2026-01-01T00:00:03.000Z', 'TOOL_ERROR')] },
  ];

  it('folds a run into its final row values', () => {
    const p = foldPatches(entries).get(X)!;
    expect(p).toMatchObject({
      started: { organizationId: 'o', projectId: 'p', workflowId: W, workflowVersion: 1, startedAt: new Date('2026-01-01T00:00:00.000Z') },
      status: 'failed',
      statusSeq: 9,
      completed: { at: new Date('2026-01-01T00:00:03.000Z'), errorCode: 'TOOL_ERROR' },
      lastSeq: 9,
      updatedAt: new Date('2026-01-01T00:00:03.000Z'),
    });
  });

  it('gives the same result in any order and with duplicates', () => {
    const expected = foldPatches(entries).get(X);
    expect(foldPatches([...entries].reverse()).get(X)).toEqual(expected);
    expect(foldPatches([entries[1]!, entries[2]!, entries[0]!, entries[1]!]).get(X)).toEqual(expected);
  });
});
