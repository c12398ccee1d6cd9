import { randomUUID } from 'node:crypto';
import { Brackets, type DataSource, type EntityManager } from 'typeorm';
import { JetflowError, type ListPage, type ListQuery, type Scope, type WorkflowDefinition, type WorkflowView } from '@jetflow/contracts';
import { WorkflowEntity, WorkflowVersionEntity, decodeCursor, isUuid, parseLimit, toPage, type WorkflowStatus } from '@jetflow/persistence';
import type { WorkflowValidator } from './workflow.validator';
import { toWorkflowView } from './workflow.view';
import { maskWebhookSecret, resolveWebhookSecret } from './webhook-secret';

/** The definition an execution pins: the workflow's current version. */
export interface PinnedDefinition {
  readonly workflow_id: string;
  readonly version: number;
  readonly definition: WorkflowDefinition;
}

export type WorkflowListQuery = ListQuery & { readonly status?: string };

/** `status` filter of the list: `active` (default), `archived` or `all`. */
const LIST_STATUSES = ['active', 'archived', 'all'] as const;

/**
 * Versioned workflow definitions per organization/project (implements `WorkflowsRpc`). Every read
 * and write is scoped: another scope's workflow, an unknown id and a non-uuid id are all NOT_FOUND.
 */
export class WorkflowsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly validator: WorkflowValidator,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  /** Saves a valid definition as version 1 of a new, active workflow. */
  async create(scope: Scope, body: unknown): Promise<WorkflowView> {
    const definition = resolveWebhookSecret(this.validOrThrow(body));
    const now = this.clock();
    const row = Object.assign(new WorkflowEntity(), {
      id: this.newId(),
      organizationId: scope.organization_id,
      projectId: scope.project_id,
      name: definition.name,
      description: definition.description ?? null,
      status: 'active' as const,
      currentVersion: 1,
      createdBy: scope.user_id ?? null,
      createdAt: now,
      updatedAt: now,
    });
    const version = this.newVersion(row.id, 1, definition, scope, now);
    await this.dataSource.transaction(async (m) => {
      await m.insert(WorkflowEntity, row);
      await insertVersion(m, version);
    });
    return toWorkflowView(row, version);
  }

  /** The current version, or `version` when given. Archived workflows stay readable. */
  async get(scope: Scope, id: string, version?: number): Promise<WorkflowView> {
    const row = await this.findRow(this.dataSource.manager, scope, id);
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
      throw new JetflowError('VALIDATION_ERROR', 'version must be a positive integer', [{ path: 'version', message: 'expected a positive integer' }]);
    }
    const v = await this.dataSource.manager.findOneBy(WorkflowVersionEntity, { workflowId: row.id, version: version ?? row.currentVersion });
    if (!v) throw new JetflowError('NOT_FOUND', `workflow ${id} has no version ${version}`);
    return toWorkflowView(row, v);
  }

  /** Newest first, keyset-paginated on (created_at, id). */
  async list(scope: Scope, query: WorkflowListQuery = {}): Promise<ListPage<WorkflowView>> {
    const limit = parseLimit(query.limit);
    const cursor = decodeCursor(query.cursor);
    const status = parseListStatus(query.status);

    const qb = this.dataSource.manager
      .createQueryBuilder(WorkflowEntity, 'w')
      .where('w.organization_id = :org AND w.project_id = :project', { org: scope.organization_id, project: scope.project_id });
    if (status !== 'all') qb.andWhere('w.status = :status', { status });
    if (cursor) {
      qb.andWhere(
        new Brackets((b) =>
          b.where('w.created_at < :at', { at: cursor.at }).orWhere('w.created_at = :at AND w.id < :id', { id: cursor.id }),
        ),
      );
    }
    const rows = await qb.orderBy('w.created_at', 'DESC').addOrderBy('w.id', 'DESC').limit(limit + 1).getMany();

    const versions = rows.length
      ? await this.dataSource.manager.find(WorkflowVersionEntity, {
          where: rows.map((r) => ({ workflowId: r.id, version: r.currentVersion })),
        })
      : [];
    const byId = new Map(versions.map((v) => [v.workflowId, v]));
    return toPage(
      rows.filter((r) => byId.has(r.id)),
      limit,
      (r) => ({ at: r.createdAt, id: r.id }),
      (r) => toWorkflowView(r, byId.get(r.id)!),
    );
  }

  /** Saves a valid definition as the next version. Archived workflows cannot change (CONFLICT). */
  async update(scope: Scope, id: string, body: unknown): Promise<WorkflowView> {
    const definition = this.validOrThrow(body);
    return this.dataSource.transaction(async (m) => {
      // Row lock: concurrent updates get consecutive versions instead of a duplicate-key error.
      const row = await this.findRow(m, scope, id, true);
      if (row.status === 'archived') throw new JetflowError('CONFLICT', 'workflow is archived');
      const now = this.clock();
      const current = await m.findOneByOrFail(WorkflowVersionEntity, { workflowId: row.id, version: row.currentVersion });
      const version = this.newVersion(row.id, row.currentVersion + 1, resolveWebhookSecret(definition, current.definition), scope, now);
      await insertVersion(m, version);
      Object.assign(row, {
        name: definition.name,
        description: definition.description ?? null,
        currentVersion: version.version,
        updatedAt: now,
      });
      await m.update(WorkflowEntity, { id: row.id }, {
        name: row.name,
        description: row.description,
        currentVersion: row.currentVersion,
        updatedAt: row.updatedAt,
      });
      return toWorkflowView(row, version);
    });
  }

  /** Archives (the API's DELETE). Idempotent; running executions keep their pinned definition. */
  async archive(scope: Scope, id: string): Promise<WorkflowView> {
    return this.dataSource.transaction(async (m) => {
      const row = await this.findRow(m, scope, id, true);
      if (row.status !== 'archived') {
        row.status = 'archived';
        row.updatedAt = this.clock();
        await m.update(WorkflowEntity, { id: row.id }, { status: row.status, updatedAt: row.updatedAt });
      }
      const v = await m.findOneByOrFail(WorkflowVersionEntity, { workflowId: row.id, version: row.currentVersion });
      return toWorkflowView(row, v);
    });
  }

  /** Validates without saving. */
  async validate(_scope: Scope, body: unknown): Promise<{ valid: true }> {
    this.validOrThrow(body);
    return { valid: true };
  }

  /** The current definition to pin into a new execution (webhook secret masked). Archived → CONFLICT. */
  async getDefinition(scope: Scope, id: string): Promise<PinnedDefinition> {
    const row = await this.findRow(this.dataSource.manager, scope, id);
    if (row.status === 'archived') throw new JetflowError('CONFLICT', 'workflow is archived');
    const v = await this.dataSource.manager.findOneByOrFail(WorkflowVersionEntity, { workflowId: row.id, version: row.currentVersion });
    // The pinned snapshot goes into the log and to SSE: never with the webhook secret.
    return { workflow_id: row.id, version: v.version, definition: maskWebhookSecret(v.definition) };
  }

  private validOrThrow(body: unknown): WorkflowDefinition {
    const result = this.validator(body);
    if (!result.ok) throw new JetflowError('VALIDATION_ERROR', 'workflow definition is invalid', result.details);
    return result.definition;
  }

  private async findRow(m: EntityManager, scope: Scope, id: string, forUpdate = false): Promise<WorkflowEntity> {
    if (!isUuid(id)) throw notFound(id);
    const row = await m.findOne(WorkflowEntity, {
      where: { id, organizationId: scope.organization_id, projectId: scope.project_id },
      ...(forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!row) throw notFound(id);
    return row;
  }

  private newVersion(workflowId: string, version: number, definition: WorkflowDefinition, scope: Scope, now: Date): WorkflowVersionEntity {
    return Object.assign(new WorkflowVersionEntity(), { workflowId, version, definition, createdBy: scope.user_id ?? null, createdAt: now });
  }
}

/** TypeORM's deep-partial insert type rejects the definition's readonly arrays; the row is complete. */
async function insertVersion(m: EntityManager, version: WorkflowVersionEntity): Promise<void> {
  await m.insert(WorkflowVersionEntity, version as unknown as Parameters<EntityManager['insert']>[1]);
}

function notFound(id: string): JetflowError {
  return new JetflowError('NOT_FOUND', `workflow ${String(id)} not found`);
}

function parseListStatus(raw: unknown): WorkflowStatus | 'all' {
  if (raw === undefined || raw === null || raw === '') return 'active';
  if (typeof raw === 'string' && (LIST_STATUSES as readonly string[]).includes(raw)) return raw as WorkflowStatus | 'all';
  throw new JetflowError('VALIDATION_ERROR', `status must be one of ${LIST_STATUSES.join(', ')}`, [
    { path: 'status', message: `expected one of ${LIST_STATUSES.join(', ')}` },
  ]);
}
