/**
 * `npm start`: a short tour of the event store on DATABASE_URL, or on an embedded
 * PGlite when it is not set. It appends likes to a post, shows optimistic concurrency
 * and an idempotent retry at work, and reads the stream and the global log back.
 * (A later issue replaces this with the GraphQL service.)
 *
 * An application, not part of the package: it imports the library from 'annals', as a
 * user's code does. It chooses its database as the `annals` command does
 * (connectionFromEnvironment), so `npm run annals -- status` sees what it projected.
 */
import { randomUUID } from 'node:crypto';
import { AnnalsError, catchUpProjections, ConcurrencyError, connectionFromEnvironment, createEventStore, readSchemaOf, type EventStore } from 'annals';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';

let store: EventStore | undefined;
try {
  const { config, description } = connectionFromEnvironment();
  store = createEventStore(config, { schema: process.env.ANNALS_SCHEMA ?? 'annals' });
  await tour(store, description);
} catch (error) {
  // Annals' own errors (a malformed DATABASE_URL, a database it cannot connect to) say
  // what is wrong in one line: a stack trace would only bury it.
  console.error(`demo failed: ${error instanceof AnnalsError ? error.message : ((error as Error).stack ?? error)}`);
  process.exitCode = 1;
} finally {
  await store?.close();
}

/** Appends, refuses a stale writer, retries idempotently, reads back and projects. */
async function tour(store: EventStore, description: string): Promise<void> {
  console.log(`Annals demo on ${description}, schema "${store.schema}"`);
  const { applied } = await store.migrate();
  console.log(applied.length ? `migrated: ${applied.join(', ')}` : 'schema up to date');

  const post = `post-${randomUUID().slice(0, 8)}`;
  const head = await store.headPosition();
  const first = await store.appendToStream(
    post,
    [
      // Schema version 2: the current shape of LikeCreated (domain/likes/likes.events.ts).
      { type: 'LikeCreated', schemaVersion: 2, data: { postId: post, userId: 'ada' } },
      { type: 'LikeCreated', schemaVersion: 2, data: { postId: post, userId: 'grace' } },
    ],
    { expectedVersion: 'no_stream' },
  );
  console.log(`appended 2 likes to ${post}: version ${first.nextExpectedVersion}, global position ${first.lastGlobalPosition}`);

  try {
    await store.appendToStream(post, [{ type: 'LikeRemoved', data: { postId: post, userId: 'ada' } }], { expectedVersion: 1 });
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    console.log(`stale writer refused: ${error.message}`);
  }

  const unlike = { id: randomUUID(), type: 'LikeRemoved', data: { postId: post, userId: 'ada' } };
  const removed = await store.appendToStream(post, [unlike], { expectedVersion: first.nextExpectedVersion });
  const retried = await store.appendToStream(post, [unlike], { expectedVersion: first.nextExpectedVersion });
  console.log(`retried the unlike with the same event id: version ${retried.nextExpectedVersion} both times (${removed.nextExpectedVersion === retried.nextExpectedVersion ? 'nothing written twice' : 'BUG'})`);

  console.log(`stream ${post}:`);
  for (const event of await store.readStream(post)) {
    console.log(`  v${event.version} ${event.type} ${JSON.stringify(event.data)}`);
  }
  const likes = new Set<string>();
  for await (const event of store.iterateStream(post)) {
    const { userId } = event.data as { userId: string };
    if (event.type === 'LikeCreated') likes.add(userId);
    else likes.delete(userId);
  }
  console.log(`like count by replay: ${likes.size} (${[...likes].join(', ')})`);

  // readAll shows an event once every transaction that started before it has finished
  // (docs/global-log.md); other writers on the same server can hold that back briefly.
  for (let waited = 0; (await store.headPosition()) < removed.lastGlobalPosition && waited < 10_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const logged = (await store.readAll({ after: head, categories: ['post'] })).filter((event) => event.streamId === post);
  console.log(`global log since the demo started: ${logged.length} events of ${post}`);
  for (const event of logged) console.log(`  #${event.globalPosition} ${event.streamId} v${event.version} ${event.type}`);

  // The like-counts projection (projections/like-counts): a read model built from the
  // log by a worker, which commits each batch with its checkpoint.
  await catchUpProjections(store, [likeCounts]);
  const [row] = await store.withTransaction((tx) =>
    tx.db.withSchema(readSchemaOf(store.schema, likeCounts)).selectFrom('like_counts').select('likes').where('post_id', '=', post).execute(),
  );
  console.log(`like count from the like-counts projection: ${row?.likes}`);
}
