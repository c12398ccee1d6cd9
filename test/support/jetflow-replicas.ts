import pino from 'pino';
import { loadConfig } from '@jetflow/config';
import { startJetflow, type RunningJetflow } from '../../apps/all-in-one/src/jetflow.boot';
import { TestNatsServer } from './nats-server';
import { TestDatabase } from './postgres';

/**
 * N whole Jetflow replicas in this test process sharing one nats-server and one database, each
 * with its own NATS connection and gateway port (scale-out in one process).
 */
export class InProcessReplicas {
  private constructor(
    readonly nats: TestNatsServer,
    readonly db: TestDatabase,
    readonly replicas: RunningJetflow[],
  ) {}

  baseUrl(i = 0): string {
    return `http://127.0.0.1:${this.replicas[i]!.port}`;
  }

  static async start(count: number, env: Record<string, string> = {}): Promise<InProcessReplicas> {
    const nats = await TestNatsServer.start();
    const db = await TestDatabase.create('jf_e2e');
    const config = loadConfig({ NATS_URL: nats.url, DATABASE_URL: db.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', HEARTBEAT_MS: '1000', ...env });
    const replicas: RunningJetflow[] = [];
    // One after the other: the first boot runs the migrations the others then find done.
    for (let i = 0; i < count; i++) replicas.push(await startJetflow(config, { logger: pino({ level: 'silent' }), sweepIntervalMs: 500 }));
    return new InProcessReplicas(nats, db, replicas);
  }

  async stop(): Promise<void> {
    for (const r of this.replicas) await r.stop();
    await this.nats.stop();
    await this.db.drop();
  }
}
