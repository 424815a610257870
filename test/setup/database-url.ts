/** The Postgres the suite runs against: DATABASE_URL, or the local one from docker-compose.yml. */
export const testDatabaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
