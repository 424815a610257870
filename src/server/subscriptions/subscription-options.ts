/**
 * GraphQL subscriptions over websockets (issue 14, section 4). A stub until it is built:
 * no subscriptions.
 */
import type { MercuriusOptions } from 'mercurius';
import type { EventStore } from '../../event-store/event-store.js';
import type { Authenticate } from '../principal.js';
import type { ServiceSettings } from '../service-options.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SubscriptionOptions {}

export interface SubscriptionSetup {
  store: EventStore;
  options: SubscriptionOptions | false | undefined;
  settings: ServiceSettings;
  authenticate: Authenticate;
}

/** mercurius' `subscription` option, or false when the service has none. */
export function subscriptionOptions(_setup: SubscriptionSetup): MercuriusOptions['subscription'] {
  return false;
}
