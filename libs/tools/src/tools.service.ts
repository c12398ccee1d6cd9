import { randomUUID } from 'node:crypto';
import { Brackets, In, QueryFailedError, type DataSource } from 'typeorm';
import { z } from 'zod';
import { JetflowError, type ErrorDetail, type ListPage, type ListQuery, type Scope } from '@jetflow/contracts';
import { ToolEntity, decodeCursor, isUuid, parseLimit, toPage } from '@jetflow/persistence';
import { isBuiltinTool } from './builtin-tools';
import { inputSchemaErrors } from './json-schema';
import { TOOL_HTTP_METHODS, type ToolCatalog, type ToolEndpoint, type ToolView } from './tool.types';

const toolBody = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'name must be 1-64 letters, digits, _ or - (an LLM function name)'),
  description: z.string().max(4_000).default(''),
  input_schema: z.record(z.string(), z.unknown()),
  endpoint: z.object({
    url: z.string().refine(isHttpUrl, 'endpoint.url must be an absolute http(s) URL'),
    method: z.enum(TOOL_HTTP_METHODS).default('POST'),
    headers: z.record(z.string(), z.string()).default({}),
  }),
});

/**
 * User tools per organization/project (`POST/GET/PUT/DELETE /api/tools`), also the catalog the
 * tools RPC serves to step workers. Every read and write is scoped; another scope's tool is
 * NOT_FOUND. Names are unique per scope (CONFLICT) and may not shadow a built-in.
 */
export class ToolsService implements ToolCatalog {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
  ) {}

  async create(scope: Scope, body: unknown): Promise<ToolView> {
    const t = parseBody(body);
    const now = this.clock();
    const row = Object.assign(new ToolEntity(), {
      id: this.newId(),
      organizationId: scope.organization_id,
      projectId: scope.project_id,
      name: t.name,
      description: t.description,
      inputSchema: t.input_schema,
      endpoint: t.endpoint,
      createdBy: scope.user_id ?? null,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.dataSource.manager.insert(ToolEntity, row as unknown as Parameters<DataSource['manager']['insert']>[1]);
    } catch (err) {
      throw uniqueViolation(err, t.name) ?? err;
    }
    return toToolView(row);
  }

  async get(scope: Scope, id: string): Promise<ToolView> {
    return toToolView(await this.findRow(scope, id));
  }

  /** Newest first, keyset-paginated on (created_at, id). */
  async list(scope: Scope, query: ListQuery = {}): Promise<ListPage<ToolView>> {
    const limit = parseLimit(query.limit);
    const cursor = decodeCursor(query.cursor);
    const qb = this.dataSource.manager
      .createQueryBuilder(ToolEntity, 't')
      .where('t.organization_id = :org AND t.project_id = :project', { org: scope.organization_id, project: scope.project_id });
    if (cursor) {
      qb.andWhere(new Brackets((b) => b.where('t.created_at < :at', { at: cursor.at }).orWhere('t.created_at = :at AND t.id < :id', { id: cursor.id })));
    }
    const rows = await qb.orderBy('t.created_at', 'DESC').addOrderBy('t.id', 'DESC').limit(limit + 1).getMany();
    return toPage(rows, limit, (r) => ({ at: r.createdAt, id: r.id }), toToolView);
  }

  /** Replaces the tool's definition (the whole body, as on create). */
  async update(scope: Scope, id: string, body: unknown): Promise<ToolView> {
    const t = parseBody(body);
    const row = await this.findRow(scope, id);
    Object.assign(row, { name: t.name, description: t.description, inputSchema: t.input_schema, endpoint: t.endpoint, updatedAt: this.clock() });
    try {
      await this.dataSource.manager.update(
        ToolEntity,
        { id: row.id, organizationId: scope.organization_id, projectId: scope.project_id },
        { name: row.name, description: row.description, inputSchema: row.inputSchema, endpoint: row.endpoint, updatedAt: row.updatedAt } as never,
      );
    } catch (err) {
      throw uniqueViolation(err, t.name) ?? err;
    }
    return toToolView(row);
  }

  /** Deletes the tool; answers what was deleted. Running steps that already looked it up finish. */
  async delete(scope: Scope, id: string): Promise<ToolView> {
    const row = await this.findRow(scope, id);
    await this.dataSource.manager.delete(ToolEntity, { id: row.id, organizationId: scope.organization_id, projectId: scope.project_id });
    return toToolView(row);
  }

  /** The scope's tools with these names (unknown names are simply absent). */
  async findByNames(scope: Scope, names: readonly string[]): Promise<ToolView[]> {
    const wanted = names.filter((n) => typeof n === 'string').slice(0, 256);
    if (!wanted.length) return [];
    const rows = await this.dataSource.manager.find(ToolEntity, {
      where: { organizationId: scope.organization_id, projectId: scope.project_id, name: In(wanted) },
    });
    return rows.map(toToolView);
  }

  private async findRow(scope: Scope, id: string): Promise<ToolEntity> {
    const notFound = new JetflowError('NOT_FOUND', `tool ${String(id)} not found`);
    if (!isUuid(id)) throw notFound;
    const row = await this.dataSource.manager.findOneBy(ToolEntity, { id, organizationId: scope.organization_id, projectId: scope.project_id });
    if (!row) throw notFound;
    return row;
  }
}

type ToolBody = { name: string; description: string; input_schema: Record<string, unknown>; endpoint: ToolEndpoint };

function parseBody(body: unknown): ToolBody {
  const parsed = toolBody.safeParse(body);
  const details: ErrorDetail[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || 'body', message: i.message }));
  if (parsed.success) {
    if (isBuiltinTool(parsed.data.name)) details.push({ path: 'name', message: `${parsed.data.name} is a built-in tool name` });
    details.push(...inputSchemaErrors(parsed.data.input_schema));
  } else if (body && typeof body === 'object' && 'input_schema' in body) {
    details.push(...inputSchemaErrors((body as { input_schema: unknown }).input_schema));
  }
  if (details.length || !parsed.success) throw new JetflowError('VALIDATION_ERROR', 'tool definition is invalid', dedupe(details));
  return parsed.data;
}

function dedupe(details: ErrorDetail[]): ErrorDetail[] {
  const seen = new Set<string>();
  return details.filter((d) => {
    const k = `${d.path}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function uniqueViolation(err: unknown, name: string): JetflowError | undefined {
  if (err instanceof QueryFailedError && (err.driverError as { code?: string } | undefined)?.code === '23505') {
    return new JetflowError('CONFLICT', `a tool named ${name} already exists in this project`, [{ path: 'name', message: 'already taken' }]);
  }
  return undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export function toToolView(row: ToolEntity): ToolView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    input_schema: row.inputSchema,
    endpoint: { url: row.endpoint.url, method: row.endpoint.method as ToolEndpoint['method'], headers: row.endpoint.headers ?? {} },
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
