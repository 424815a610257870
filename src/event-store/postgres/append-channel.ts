import { createHash } from 'node:crypto';

/**
 * The schema's notification channel, the one `subscribeToAppends` listens on: named from
 * a hash of the schema, since a channel name must fit in 63 bytes whatever the schema's
 * name. Appends notify on it, and so do checkpoint moves (consumers/checkpoint-notifier.ts).
 */
export function appendChannel(schema: string): string {
  return `annals_${createHash('md5').update(schema).digest('hex').slice(0, 16)}`;
}
