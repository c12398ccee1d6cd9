import './register-aliases';
import { ConfigError, loadConfig } from '@jetflow/config';
import { startJetflow } from './jetflow.boot';

/** `node dist/apps/all-in-one/main.js [--services=gateway,executions]`: one process, any set of services. */
async function main(): Promise<void> {
  const servicesArg = process.argv.find((a) => a.startsWith('--services='))?.slice('--services='.length);
  let config;
  try {
    config = loadConfig({ ...process.env, ...(servicesArg ? { SERVICES: servicesArg } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const jetflow = await startJetflow(config);
  jetflow.logger.info({ services: config.services }, 'jetflow started');
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    jetflow.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await jetflow.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error('jetflow failed to start:', err);
  process.exit(1);
});
