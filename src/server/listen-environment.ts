import { z } from 'zod';
import { parseInput } from '../validation.js';

/** Where the service listens: what `Service.listen` takes. */
export interface ListenOptions {
  /** 0 to 65535; 0 asks the system for a free port (tests). */
  port: number;
  /** A host name or address: 127.0.0.1 (this machine only), 0.0.0.0 (every interface: containers). */
  host: string;
}

export const defaultPort = 4000;
export const defaultHost = '127.0.0.1';

const environmentSchema = z.object({
  PORT: z
    .string()
    .regex(/^\d{1,5}$/, { error: 'must be a port number from 0 to 65535' })
    .transform(Number)
    .refine((port) => port <= 65535, { error: 'must be a port number from 0 to 65535' })
    .optional(),
  HOST: z
    .string()
    .regex(/^[^\s/]+$/, { error: 'must be a host name or an address, without spaces, scheme or path (127.0.0.1, 0.0.0.0, ::)' })
    .optional(),
});

/**
 * `PORT` (default 4000) and `HOST` (default 127.0.0.1: reachable from this machine only
 * until a deployment says otherwise; containers set 0.0.0.0). Empty counts as unset, as a
 * `PORT=` line in an env file means. Checked here, where the variables are named, so that
 * `PORT=abc` is reported as `PORT: ...` and not as a listen error about NaN.
 *
 * @throws ValidationError on the field `PORT` or `HOST`.
 *
 * @example
 * ```ts
 * const url = await service.listen(listenOptionsFromEnvironment()); // http://127.0.0.1:4000
 * ```
 */
export function listenOptionsFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): ListenOptions {
  const checked = parseInput(environmentSchema, { PORT: env.PORT || undefined, HOST: env.HOST || undefined }, '');
  return { port: checked.PORT ?? defaultPort, host: checked.HOST ?? defaultHost };
}
