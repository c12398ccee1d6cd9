import { randomUUID } from 'node:crypto';
import { Brackets, type DataSource, type EntityManager } from 'typeorm';
import { JetflowError, type ErrorDetail, type ListPage, type ListQuery, type Scope } from '@jetflow/contracts';
import { AgentEntity, decodeCursor, isUuid, parseLimit, toPage } from '@jetflow/persistence';
import { agentBodySchema, type AgentSettings, type AgentView } from './agent-definition';

/**
 * Agents per organization/project (implements `AgentsRpc`). Every read and write is scoped:
 * another scope's agent, an unknown id and a non-uuid id are all NOT_FOUND.
 */
export class AgentsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(scope: Scope, body: unknown): Promise<AgentView> {
    const settings = parseAgent(body);
    const now = this.clock();
    const row = Object.assign(new AgentEntity(), {
      id: this.newId(),
      organizationId: scope.organization_id,
      projectId: scope.project_id,
      name: settings.name,
      settings: settings as unknown as Record<string, unknown>,
      createdBy: scope.user_id ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await this.dataSource.manager.insert(AgentEntity, row as unknown as Parameters<EntityManager['insert']>[1]);
    return toView(row);
  }

  async get(scope: Scope, id: string): Promise<AgentView> {
    return toView(await this.findRow(scope, id));
  }

  /** Newest first, keyset-paginated on (created_at, id). */
  async list(scope: Scope, query: ListQuery = {}): Promise<ListPage<AgentView>> {
    const limit = parseLimit(query.limit);
    const cursor = decodeCursor(query.cursor);
    const qb = this.dataSource.manager
      .createQueryBuilder(AgentEntity, 'a')
      .where('a.organization_id = :org AND a.project_id = :project', { org: scope.organization_id, project: scope.project_id });
    if (cursor) {
      qb.andWhere(new Brackets((b) => b.where('a.created_at < :at', { at: cursor.at }).orWhere('a.created_at = :at AND a.id < :id', { id: cursor.id })));
    }
    const rows = await qb.orderBy('a.created_at', 'DESC').addOrderBy('a.id', 'DESC').limit(limit + 1).getMany();
    return toPage(rows, limit, (r) => ({ at: r.createdAt, id: r.id }), toView);
  }

  /** Replaces the settings. Steps already running keep the settings they loaded. */
  async update(scope: Scope, id: string, body: unknown): Promise<AgentView> {
    const settings = parseAgent(body);
    const row = await this.findRow(scope, id);
    Object.assign(row, { name: settings.name, settings, updatedAt: this.clock() });
    // TypeORM's deep-partial type rejects a JSON record; the values are complete.
    await this.dataSource.manager.update(AgentEntity, { id: row.id }, { name: row.name, settings: row.settings, updatedAt: row.updatedAt } as unknown as Parameters<EntityManager['update']>[2]);
    return toView(row);
  }

  /** Deletes for good; a later agent step referencing it fails with AGENT_ERROR. */
  async delete(scope: Scope, id: string): Promise<AgentView> {
    const row = await this.findRow(scope, id);
    await this.dataSource.manager.delete(AgentEntity, { id: row.id });
    return toView(row);
  }

  private async findRow(scope: Scope, id: string): Promise<AgentEntity> {
    if (!isUuid(id)) throw notFound(id);
    const row = await this.dataSource.manager.findOneBy(AgentEntity, { id, organizationId: scope.organization_id, projectId: scope.project_id });
    if (!row) throw notFound(id);
    return row;
  }
}

/** Validates an agent body; every problem becomes one `details` entry. */
export function parseAgent(body: unknown): AgentSettings {
  const parsed = agentBodySchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const details: ErrorDetail[] = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
  throw new JetflowError('VALIDATION_ERROR', 'agent is invalid', details);
}

function toView(row: AgentEntity): AgentView {
  return {
    ...(row.settings as unknown as AgentSettings),
    id: row.id,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function notFound(id: string): JetflowError {
  return new JetflowError('NOT_FOUND', `agent ${String(id)} not found`);
}
