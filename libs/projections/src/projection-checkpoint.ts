import type { EntityManager } from 'typeorm';

/**
 * The upsert of a projection's checkpoint (`projection_checkpoints`): name, seq, updated_at as
 * parameters `$first`..`$first+2`. It only moves forward, so batches applied out of order (replicas,
 * redeliveries) never lower it; it can close a statement whose CTEs write the rows.
 */
export function checkpointUpsert(first = 1): string {
  return `
  INSERT INTO projection_checkpoints AS c (name, seq, updated_at) VALUES ($${first}, $${first + 1}, $${first + 2})
  ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at
  WHERE EXCLUDED.seq > c.seq`;
}

/** Highest sequence committed by the projection `name` (0 before its first batch). */
export async function readCheckpoint(manager: EntityManager, name: string): Promise<number> {
  const rows: { seq: string }[] = await manager.query(`SELECT seq FROM projection_checkpoints WHERE name = $1`, [name]);
  return rows.length ? Number(rows[0]!.seq) : 0;
}
