import { sql } from 'kysely';
import { z } from 'zod';
import { globalPositionSchema } from '../read-options.js';
import { parseInput } from '../../validation.js';
import type { SessionContext } from './session-context.js';

const checkpointNameSchema = z.string().min(1, { error: 'must not be empty' }).max(255, { error: 'must be at most 255 characters' });

export async function readCheckpoint(session: SessionContext, name: string): Promise<bigint> {
  session.assertOpen();
  const checked = parseInput(checkpointNameSchema, name, 'name');
  const row = await session.executor
    .withSchema(session.schema)
    .selectFrom('checkpoints')
    .select('position')
    .where('name', '=', checked)
    .executeTakeFirst();
  return row ? BigInt(row.position) : 0n;
}

export async function saveCheckpoint(session: SessionContext, name: string, position: bigint): Promise<void> {
  session.assertOpen();
  const checked = parseInput(checkpointNameSchema, name, 'name');
  const at = parseInput(globalPositionSchema, position, 'position');
  await session.executor
    .withSchema(session.schema)
    .insertInto('checkpoints')
    .values({ name: checked, position: at.toString() })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({
        position: sql`greatest(checkpoints.position, excluded.position)`,
        updated_at: sql`now()`,
      }),
    )
    .execute();
}
