import { deepStrictEqual, fail } from 'node:assert/strict';
import type { AnyAggregate, CommandInput, CommandsOf, EventsOf } from '../aggregates/define-aggregate.js';
import type { DomainEvent, DomainEventInput } from '../event-schemas/versioned-event.js';
import { parseInput } from '../validation.js';

/**
 * Given / when / then specifications for an aggregate's pure logic: no database. Given
 * past events, when a command is decided, then these events (or this error) follow.
 *
 * @example
 * ```ts
 * const spec = aggregateSpec(bankAccount);
 * spec
 *   .given([{ type: 'AccountOpened', data: { accountId: 'a', owner: 'ada' } }])
 *   .when({ type: 'Withdraw', data: { amount: 5 } })
 *   .thenThrows(InsufficientFunds);
 * ```
 */
export function aggregateSpec<A extends AnyAggregate>(aggregate: A) {
  return {
    given(history: readonly DomainEventInput<EventsOf<A>>[]) {
      // Through the codec, as if stored and read back: defaults applied, shapes checked.
      const events = aggregate.eventCodec.encode(history, () => ({}), () => undefined);
      const state = events.reduce(
        (current, event) => aggregate.evolve(current, { type: event.type, data: event.data } as DomainEvent<EventsOf<A>>),
        aggregate.initialState(),
      );
      return {
        when(input: CommandInput<CommandsOf<A>>) {
          const decideNow = () => {
            const command = parseInput(aggregate.commandSchema, { type: input.type, data: input.data }, 'command');
            const result = aggregate.decide(command, state);
            const decided = Array.isArray(result) ? result : [result];
            return aggregate.eventCodec
              .encode(decided, () => ({}), () => undefined)
              .map((event) => ({ type: event.type, data: event.data }));
          };
          return {
            /** The command produces exactly these events (after schema defaults). */
            then(expected: readonly DomainEventInput<EventsOf<A>>[]) {
              const wanted = aggregate.eventCodec
                .encode(expected, () => ({}), () => undefined)
                .map((event) => ({ type: event.type, data: event.data }));
              deepStrictEqual(decideNow(), wanted);
            },
            /** The command produces no event. */
            thenNothing() {
              deepStrictEqual(decideNow(), []);
            },
            /** The command is refused with this error class (and these fields, if given). */
            thenThrows(errorClass: abstract new (...args: never[]) => Error, fields: Record<string, unknown> = {}) {
              let thrown: unknown;
              try {
                decideNow();
              } catch (error) {
                thrown = error;
              }
              if (!(thrown instanceof errorClass)) {
                fail(`expected ${errorClass.name} to be thrown, got ${thrown === undefined ? 'no error' : String(thrown)}`);
              }
              for (const [key, value] of Object.entries(fields)) {
                deepStrictEqual((thrown as unknown as Record<string, unknown>)[key], value, `error.${key}`);
              }
            },
          };
        },
      };
    },
  };
}
