import { createHmac, randomUUID } from 'node:crypto';
import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';
import { InProcessReplicas } from '../support/jetflow-replicas';
import { http, readSse } from '../support/http-client';
import { eventually } from '../support/eventually';

const sign = (secret: string, raw: string) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
const JSON_ONLY = { 'content-type': 'application/json' };

function scope(): Record<string, string> {
  return { ...SCOPE_HEADERS, 'X-elevAIte-OrganizationId': `org-${randomUUID()}` };
}

const echoWorkflow = (trigger: Record<string, unknown>) => ({
  name: `hook ${randomUUID()}`,
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: trigger, next_steps: ['echo'] },
    { step_id: 'echo', step_type: 'data_transform', parameters: { mapping: { kind: '{{input.kind}}', order: '{{input.body.order}}', body: '{{input.body}}' } }, next_steps: [] },
  ],
});

describe('webhook trigger (HTTP, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);
  const create = async (body: unknown, headers: Record<string, string>) => {
    const res = await api('POST', '/api/workflows', body, headers);
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const finished = async (id: string, headers: Record<string, string>) => {
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${id}/stream`, { headers });
    expect(messages.at(-1)?.event).toBe('complete');
    return (await api('GET', `/api/executions/${id}`, undefined, headers)).body;
  };
  /** The workflow's runs once the read model lists at least `atLeast` of them. */
  const listedRuns = async (workflowId: string, headers: Record<string, string>, atLeast: number) =>
    (await eventually(async () => {
      const r = await api('GET', `/api/executions?workflow_id=${workflowId}`, undefined, headers);
      return r.body.items.length >= atLeast ? r : null;
    }))!.body.items;

  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('starts a run in the workflow\'s own scope with the JSON body as input.body, no scope headers needed', async () => {
    const owner = scope();
    const id = await create(echoWorkflow({ kind: 'webhook' }), owner);
    const res = await api('POST', `/api/hooks/${id}`, { order: 42, items: ['a'] }, JSON_ONLY);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ workflow_id: id });
    const exec = await finished(res.body.execution_id, owner);
    expect(exec).toMatchObject({ status: 'completed', result: { kind: 'webhook', order: 42, body: { order: 42, items: ['a'] } } });
    // Another scope cannot see it.
    expect((await api('GET', `/api/executions/${res.body.execution_id}`, undefined, scope())).status).toBe(404);
  });

  it('with a secret: a valid HMAC-SHA256 signature of the raw body starts a run; missing or wrong ones are 401', async () => {
    const owner = scope();
    const secret = `s3cret-${randomUUID()}`;
    const id = await create(echoWorkflow({ kind: 'webhook', secret }), owner);
    // Unusual spacing: the signature is over the exact bytes, not a re-serialization.
    const raw = '{ "order" :  7 ,"note":"ünïcode"}';

    const unsigned = await api('POST', `/api/hooks/${id}`, raw, JSON_ONLY);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.code).toBe('UNAUTHORIZED');
    expect(unsigned.text).not.toContain(secret);

    const wrongSecret = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign('not-the-secret', raw) });
    expect(wrongSecret.status).toBe(401);
    const reserialized = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign(secret, JSON.stringify(JSON.parse(raw))) });
    expect(reserialized.status).toBe(401);
    const garbage = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': 'sha256=zz' });
    expect(garbage.status).toBe(401);
    expect(garbage.body.error.code).toBe('UNAUTHORIZED');

    const ok = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign(secret, raw) });
    expect(ok.status).toBe(202);
    const exec = await finished(ok.body.execution_id, owner);
    expect(exec.result).toMatchObject({ kind: 'webhook', order: 7, body: { order: 7, note: 'ünïcode' } });

    // Only the signed request started a run.
    expect(await listedRuns(id, owner, 1)).toHaveLength(1);
  });

  it('with X-Jetflow-Timestamp the signature covers "<timestamp>..<body>": a replay within 5 minutes returns the same execution, a stale or future one is 401', async () => {
    const owner = scope();
    const secret = `s3cret-${randomUUID()}`;
    const id = await create(echoWorkflow({ kind: 'webhook', secret }), owner);
    const raw = JSON.stringify({ order: 11 });
    const now = Math.floor(Date.now() / 1000);
    const signed = (ts: number | string, body = raw) => ({ ...JSON_ONLY, 'X-Jetflow-Timestamp': String(ts), 'X-Jetflow-Signature': sign(secret, `${ts}..${body}`) });

    const ok = await api('POST', `/api/hooks/${id}`, raw, signed(now));
    expect(ok.status).toBe(202);
    // The same captured request sent again: the same execution, no second run.
    const replay = await api('POST', `/api/hooks/${id}`, raw, signed(now));
    expect(replay.status).toBe(202);
    expect(replay.body.execution_id).toBe(ok.body.execution_id);
    // The same body signed at another second is another delivery.
    const later = await api('POST', `/api/hooks/${id}`, raw, signed(now + 1));
    expect(later.status).toBe(202);
    expect(later.body.execution_id).not.toBe(ok.body.execution_id);
    const exec = await finished(ok.body.execution_id, owner);
    expect(exec.result).toMatchObject({ kind: 'webhook', order: 11 });

    // A captured request replayed with a fresh Idempotency-Key or delivery id: the signature does not cover that id.
    for (const header of ['Idempotency-Key', 'webhook-id']) {
      const rekeyed = await api('POST', `/api/hooks/${id}`, raw, { ...signed(now), [header]: `replay-${randomUUID()}` });
      expect(rekeyed.status).toBe(401);
    }
    const current = Math.floor(Date.now() / 1000);
    for (const ts of [current - 400, current + 400]) {
      const stale = await api('POST', `/api/hooks/${id}`, raw, signed(ts));
      expect(stale.status).toBe(401);
      expect(stale.body.error.code).toBe('UNAUTHORIZED');
      expect(stale.body.error.message).toContain('X-Jetflow-Timestamp');
    }
    // A timestamp header moved onto a body-only signature, or a body-only signature with a timestamp, fails.
    const moved = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Timestamp': String(now), 'X-Jetflow-Signature': sign(secret, raw) });
    expect(moved.status).toBe(401);
    const malformed = await api('POST', `/api/hooks/${id}`, raw, { ...signed(now), 'X-Jetflow-Timestamp': 'yesterday' });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.message).toContain('X-Jetflow-Timestamp');

    expect(await listedRuns(id, owner, 2)).toHaveLength(2);
  });

  it('with a delivery id and a timestamp the signature covers "<timestamp>.<id>.<body>": retries re-signed later return the same execution, another id is 401', async () => {
    const owner = scope();
    const secret = `s3cret-${randomUUID()}`;
    const id = await create(echoWorkflow({ kind: 'webhook', secret }), owner);
    const raw = JSON.stringify({ order: 13 });
    const delivery = `msg_${randomUUID()}`;
    const signed = (ts: number, deliveryId = delivery) => ({ ...JSON_ONLY, 'webhook-id': deliveryId, 'X-Jetflow-Timestamp': String(ts), 'X-Jetflow-Signature': sign(secret, `${ts}.${deliveryId}.${raw}`) });
    const now = Math.floor(Date.now() / 1000);
    const first = await api('POST', `/api/hooks/${id}`, raw, signed(now));
    expect(first.status).toBe(202);
    // The sender's retry, signed again a few seconds later: the same delivery.
    const retry = await api('POST', `/api/hooks/${id}`, raw, signed(now + 5));
    expect(retry.status).toBe(202);
    expect(retry.body.execution_id).toBe(first.body.execution_id);
    // The captured request with its id swapped, or signed without the id, is refused.
    const swapped = await api('POST', `/api/hooks/${id}`, raw, { ...signed(now), 'webhook-id': `msg_${randomUUID()}` });
    expect(swapped.status).toBe(401);
    const idNotSigned = await api('POST', `/api/hooks/${id}`, raw, { ...signed(now), 'X-Jetflow-Signature': sign(secret, `${now}..${raw}`) });
    expect(idNotSigned.status).toBe(401);
    // The signed id moved to another id header (or to Idempotency-Key) is the same delivery, not a new run.
    const { 'webhook-id': _moved, ...rest } = signed(now);
    for (const header of ['X-Webhook-Id', 'X-GitHub-Delivery', 'Idempotency-Key']) {
      const moved = await api('POST', `/api/hooks/${id}`, raw, { ...rest, [header]: delivery });
      expect(moved.status).toBe(202);
      expect(moved.body.execution_id).toBe(first.body.execution_id);
    }
    // An id with a dot would make the signed bytes ambiguous: refused.
    const dotted = await api('POST', `/api/hooks/${id}`, raw, signed(now, 'evt.1'));
    expect(dotted.status).toBe(400);
    // Another delivery is another run.
    const other = await api('POST', `/api/hooks/${id}`, raw, signed(now, `msg_${randomUUID()}`));
    expect(other.status).toBe(202);
    expect(other.body.execution_id).not.toBe(first.body.execution_id);
  });

  it('require_timestamp refuses body-only signatures, so no captured request stays valid', async () => {
    const owner = scope();
    const secret = `s3cret-${randomUUID()}`;
    const id = await create(echoWorkflow({ kind: 'webhook', secret, require_timestamp: true }), owner);
    const raw = JSON.stringify({ order: 12 });
    const bodyOnly = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign(secret, raw) });
    expect(bodyOnly.status).toBe(401);
    expect(bodyOnly.body.error.message).toContain('requires X-Jetflow-Timestamp');
    const ts = Math.floor(Date.now() / 1000);
    const ok = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Timestamp': String(ts), 'X-Jetflow-Signature': sign(secret, `${ts}..${raw}`) });
    expect(ok.status).toBe(202);
    // A bad value is a validation error, not a silently ignored option; without a secret nothing could be checked.
    const bad = await api('POST', '/api/workflows', echoWorkflow({ kind: 'webhook', secret, require_timestamp: 'yes' }), owner);
    expect(bad.status).toBe(400);
    const noSecret = await api('POST', '/api/workflows', echoWorkflow({ kind: 'webhook', require_timestamp: true }), owner);
    expect(noSecret.status).toBe(400);
    expect(JSON.stringify(noSecret.body)).toContain('require_timestamp');
    // The secret kept across an update (secret_configured sent back) still counts.
    const got = (await api('GET', `/api/workflows/${id}`, undefined, owner)).body;
    const put = await api('PUT', `/api/workflows/${id}`, { name: got.name, steps: got.steps }, owner);
    expect(put.status).toBe(200);
  });

  it('keeps the secret write-only: never shown by the API, kept when the GET body is PUT back, replaced by a new one', async () => {
    const owner = scope();
    const secret = `s3cret-${randomUUID()}`;
    const created = await api('POST', '/api/workflows', echoWorkflow({ kind: 'webhook', secret }), owner);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const got = await api('GET', `/api/workflows/${id}`, undefined, owner);
    const listed = await api('GET', '/api/workflows', undefined, owner);
    for (const text of [created.text, got.text, listed.text]) expect(text).not.toContain(secret);
    expect(got.body.steps[0].parameters).toEqual({ kind: 'webhook', secret_configured: true });

    // An edit made from what GET returned keeps the secret.
    const put = await api('PUT', `/api/workflows/${id}`, { name: got.body.name, steps: got.body.steps.map((s: Record<string, unknown>) => (s['step_id'] === 'echo' ? { ...s, parameters: { mapping: { v: 2, kind: '{{input.kind}}' } } } : s)) }, owner);
    expect(put.status).toBe(200);
    expect(put.text).not.toContain(secret);
    const raw = '{"order":1}';
    expect((await api('POST', `/api/hooks/${id}`, raw, JSON_ONLY)).status).toBe(401);
    const ok = await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign(secret, raw) });
    expect(ok.status).toBe(202);
    expect((await finished(ok.body.execution_id, owner)).result).toEqual({ v: 2, kind: 'webhook' });

    // A new secret replaces it; dropping both removes the signature requirement.
    const rotated = `r0tated-${randomUUID()}`;
    expect((await api('PUT', `/api/workflows/${id}`, echoWorkflow({ kind: 'webhook', secret: rotated }), owner)).status).toBe(200);
    expect((await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign(secret, raw) })).status).toBe(401);
    expect((await api('POST', `/api/hooks/${id}`, raw, { ...JSON_ONLY, 'X-Jetflow-Signature': sign(rotated, raw) })).status).toBe(202);
    expect((await api('PUT', `/api/workflows/${id}`, echoWorkflow({ kind: 'webhook' }), owner)).status).toBe(200);
    expect((await api('POST', `/api/hooks/${id}`, raw, JSON_ONLY)).status).toBe(202);
  });

  it('honors Idempotency-Key: a repeated delivery returns the same execution', async () => {
    const owner = scope();
    const id = await create(echoWorkflow({ kind: 'webhook' }), owner);
    const key = { ...JSON_ONLY, 'Idempotency-Key': `delivery-${randomUUID()}` };
    const first = await api('POST', `/api/hooks/${id}`, { order: 1 }, key);
    const second = await api('POST', `/api/hooks/${id}`, { order: 1 }, key);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.execution_id).toBe(first.body.execution_id);
    const other = await api('POST', `/api/hooks/${id}`, { order: 1 }, JSON_ONLY);
    expect(other.body.execution_id).not.toBe(first.body.execution_id);
    // The prefixes of derived keys (signed ids, signatures, delivery ids) are not a client's to take.
    for (const reserved of ['signed:abc', 'signature:abc', 'delivery:webhook-id:abc']) {
      const res = await api('POST', `/api/hooks/${id}`, { order: 1 }, { ...JSON_ONLY, 'Idempotency-Key': reserved });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
  });

  it('without an Idempotency-Key, a delivery id header (webhook-id, X-GitHub-Delivery) makes a redelivery return the same execution', async () => {
    const owner = scope();
    const id = await create(echoWorkflow({ kind: 'webhook' }), owner);
    for (const header of ['webhook-id', 'X-GitHub-Delivery', 'X-Webhook-Id']) {
      const delivery = { ...JSON_ONLY, [header]: `msg_${randomUUID()}` };
      const first = await api('POST', `/api/hooks/${id}`, { order: 2 }, delivery);
      const retry = await api('POST', `/api/hooks/${id}`, { order: 2 }, delivery);
      expect([first.status, retry.status]).toEqual([202, 202]);
      expect(retry.body.execution_id).toBe(first.body.execution_id);
    }
    // A sender's long delivery id (up to the 255-character header limit of other keys) works too.
    const long = { ...JSON_ONLY, 'webhook-id': `msg_${'x'.repeat(250)}` };
    const [l1, l2] = [await api('POST', `/api/hooks/${id}`, { order: 2 }, long), await api('POST', `/api/hooks/${id}`, { order: 2 }, long)];
    expect([l1.status, l2.status]).toEqual([202, 202]);
    expect(l2.body.execution_id).toBe(l1.body.execution_id);
    // Another delivery id is another event.
    const a = await api('POST', `/api/hooks/${id}`, { order: 3 }, { ...JSON_ONLY, 'webhook-id': `msg_${randomUUID()}` });
    const b = await api('POST', `/api/hooks/${id}`, { order: 3 }, { ...JSON_ONLY, 'webhook-id': `msg_${randomUUID()}` });
    expect(b.body.execution_id).not.toBe(a.body.execution_id);
  });

  it('answers 404 NOT_FOUND for a workflow whose trigger is not a webhook, and for unknown ids', async () => {
    const owner = scope();
    const id = await create(echoWorkflow({ kind: 'api' }), owner);
    const wrongKind = await api('POST', `/api/hooks/${id}`, { order: 1 }, JSON_ONLY);
    expect(wrongKind.status).toBe(404);
    expect(wrongKind.body.error.code).toBe('NOT_FOUND');
    const unknown = await api('POST', `/api/hooks/${randomUUID()}`, { order: 1 }, JSON_ONLY);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await api('POST', '/api/hooks/not-a-uuid', { order: 1 }, JSON_ONLY)).status).toBe(404);
    const listed = await api('GET', `/api/executions?workflow_id=${id}`, undefined, owner);
    expect(listed.body.items).toHaveLength(0);
  });

  it('answers 409 CONFLICT for an archived webhook workflow, and 400 for a malformed body', async () => {
    const owner = scope();
    const id = await create(echoWorkflow({ kind: 'webhook' }), owner);
    expect((await api('POST', `/api/hooks/${id}`, '{"order": ', JSON_ONLY)).status).toBe(400);
    expect((await api('DELETE', `/api/workflows/${id}`, undefined, owner)).status).toBe(200);
    const archived = await api('POST', `/api/hooks/${id}`, { order: 1 }, JSON_ONLY);
    expect(archived.status).toBe(409);
    expect(archived.body.error.code).toBe('CONFLICT');
  });

  it('answers 404, not 409, for an archived workflow that is not webhook-triggered (nothing learnt about other workflows)', async () => {
    const owner = scope();
    for (const trigger of [{ kind: 'api' }, { kind: 'schedule', cron: '0 0 1 1 *' }]) {
      const id = await create(echoWorkflow(trigger), owner);
      expect((await api('DELETE', `/api/workflows/${id}`, undefined, owner)).status).toBe(200);
      const res = await api('POST', `/api/hooks/${id}`, { order: 1 }, JSON_ONLY);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      // Same answer as for an id nobody ever used.
      expect(res.body).toEqual((await api('POST', `/api/hooks/${randomUUID()}`, { order: 1 }, JSON_ONLY)).body);
    }
  });
});

describe('schedule trigger with two replicas (one nats-server, one database)', () => {
  let cluster: InProcessReplicas;
  beforeAll(async () => {
    cluster = await InProcessReplicas.start(2, { SCHEDULE_REFRESH_MS: '300' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('fires a per-second cron exactly once per tick, without gaps, however many replicas run', async () => {
    const owner = scope();
    const api = <T = any>(i: number, method: string, path: string, body?: unknown) => http<T>(cluster.baseUrl(i), method, path, body, owner);
    const created = await api(0, 'POST', '/api/workflows', {
      name: 'every second',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'schedule', cron: '* * * * * *', timezone: 'Europe/Berlin' }, next_steps: ['t'] },
        { step_id: 't', step_type: 'data_transform', parameters: { mapping: { tick: '{{input.scheduled_at}}', kind: '{{input.kind}}' } }, next_steps: [] },
      ],
    });
    expect(created.status).toBe(201);
    const wf = created.body.id as string;

    // ~4 s of ticks after the first run.
    const listAll = async () => (await api(1, 'GET', `/api/executions?workflow_id=${wf}&limit=500`)).body.items as { id: string; status: string }[];
    await eventually(async () => (await listAll()).length >= 5, { timeoutMs: 20_000, intervalMs: 200 });
    expect((await api(0, 'DELETE', `/api/workflows/${wf}`)).status).toBe(200);

    const summaries = await eventually(async () => {
      const items = await listAll();
      return items.every((e) => e.status === 'completed') ? items : null;
    });
    const ticks = await Promise.all(summaries!.map(async (s) => (await api(0, 'GET', `/api/executions/${s.id}`)).body.result as { tick: string; kind: string }));
    expect(ticks.every((t) => t.kind === 'schedule')).toBe(true);
    const perTick = new Map<string, number>();
    for (const t of ticks) perTick.set(t.tick, (perTick.get(t.tick) ?? 0) + 1);
    expect([...perTick.values()].every((n) => n === 1)).toBe(true);
    const sorted = [...perTick.keys()].map((t) => Date.parse(t)).sort((a, b) => a - b);
    expect(sorted.every((t) => t % 1000 === 0)).toBe(true);
    // Consecutive seconds: nothing skipped between the first and last run.
    expect(sorted.at(-1)! - sorted[0]!).toBe((sorted.length - 1) * 1000);
    expect(sorted.length).toBeGreaterThanOrEqual(5);
  });
});
