import { fileURLToPath } from 'node:url';
import { startScript, type ScriptProcess } from '../../../setup/child-process.js';
import { testDatabaseUrl } from '../../../setup/database.js';
import type { LikesTarget } from './likes-outbox.js';

const script = fileURLToPath(new URL('./nats-relay-script.ts', import.meta.url));

/** A relay process (support/nats-relay-script.ts) and what it printed. */
export interface RelayProcess extends ScriptProcess {
  readonly name: string;
  /** It printed `holding`: its next publish never returns (HOLD_AFTER). */
  readonly holding: boolean;
  readonly ready: boolean;
}

/**
 * Starts relay processes of one outbox and counts, across all of them, how many times
 * each message id was acknowledged by JetStream (`acked`).
 */
export function relayProcesses(options: { schema: string; outbox: string; target: LikesTarget }) {
  const acked = new Map<string, number>();
  return {
    acked,
    start(name: string, env: { HOLD_AFTER?: string } = {}): RelayProcess {
      const state = { holding: false, ready: false };
      const started = startScript(
        script,
        {
          DATABASE_URL: testDatabaseUrl,
          ANNALS_SCHEMA: options.schema,
          OUTBOX_NAME: options.outbox,
          WORKER_ID: name,
          NATS_URL: options.target.natsUrl,
          NATS_PREFIX: options.target.prefix,
          NATS_STREAM: options.target.stream,
          ...env,
        },
        (line) => {
          let parsed: { kind?: string; id?: string };
          try {
            parsed = JSON.parse(line) as typeof parsed;
          } catch {
            return; // Not one of its lines (a warning of node's).
          }
          if (parsed.kind === 'acked' && parsed.id) acked.set(parsed.id, (acked.get(parsed.id) ?? 0) + 1);
          else if (parsed.kind === 'holding') state.holding = true;
          else if (parsed.kind === 'ready') state.ready = true;
        },
      );
      return {
        ...started,
        name,
        get holding() {
          return state.holding;
        },
        get ready() {
          return state.ready;
        },
      };
    },
  };
}
