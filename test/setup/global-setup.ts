import pg from 'pg';
import { testDatabaseUrl } from './database-url.js';

/**
 * The suite runs against a real Postgres and says so loudly when there is none: a
 * silent fallback would turn a missing database into a green run that tested nothing.
 */
export default async function checkPostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `The tests need PostgreSQL at ${testDatabaseUrl} (set DATABASE_URL to use another). ` +
        `Start one with 'docker compose up -d postgres'. Connecting failed: ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}
