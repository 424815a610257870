import { connectionTypeDefs } from '../../graphql/connection.js';

/** The admin part's SDL: every root field in it needs a bearer token with the `admin` role. */
export const adminTypeDefs = `"""Any JSON value: an event's data and metadata, as stored."""
scalar JSON

"""An event of the log."""
type LogEvent {
  """Its global position, as a string (positions pass 2^53)."""
  position: String!
  id: ID!
  streamId: ID!
  """Its place in its stream, from 1."""
  version: Int!
  type: String!
  schemaVersion: Int!
  data: JSON!
  """correlationId and causationId among others: a mutation stamps its request's ids here."""
  metadata: JSON!
  """ISO 8601."""
  recordedAt: String!
}

"""One stream: its state, and its events."""
type Stream {
  id: ID!
  category: String!
  """Events ever appended to it (truncation and deletion do not lower it)."""
  version: Int!
  """Reads return only events of this version and later."""
  truncateBefore: Int!
  """First version of its current life (after a deletion and recreation)."""
  historyStart: Int!
  deleted: Boolean!
  deletedAt: String
  createdAt: String!
  updatedAt: String!
  """Its events, oldest first (ANNALS_STREAM_DELETED when deleted: its events stay in the log, read them with events)."""
  events(first: Int, after: String): LogEventConnection!
}

enum GenerationStatus {
  """Serves reads."""
  LIVE
  """A rebuild under way: readers switch to it once it has caught up."""
  BUILDING
}

"""Where one partition of a generation stands."""
type ProjectionPartition {
  partition: Int!
  """The global position it has processed up to."""
  checkpoint: String!
  """Events of the projection's types after its checkpoint, up to the head (a whole number; Float because it may pass 2^31)."""
  lag: Float!
  """Age of the oldest event it has not processed, in milliseconds; null when caught up."""
  oldestUnprocessedAgeMs: Float
  """Over its owner's last seconds."""
  eventsPerSecond: Float!
  eventsProcessed: Float!
  retries: Float!
  deadLettered: Float!
  """The worker holding its lease, if any."""
  owner: String
  heartbeatAt: String
  leaseExpiresAt: String
  """Why a failure stopped it (resumeProjection lets it run again); null when running."""
  stoppedError: String
}

"""One generation of a projection: its read-model tables, built by one version of its code."""
type ProjectionGeneration {
  generation: Int!
  version: Int!
  status: GenerationStatus!
  """The laggiest partition's lag: the events it has still to process, at most."""
  lag: Float!
  oldestUnprocessedAgeMs: Float
  """A rebuild's share of its events processed, 0 to 1; null when live."""
  rebuildProgress: Float
  partitions: [ProjectionPartition!]!
}

type IdleWorker {
  workerId: String!
  """The version of the projection it runs, which has no generation: it processes nothing of it."""
  version: Int!
}

type ProjectionReport {
  name: String!
  """The version of the code this service has; null when it only found the projection in the database (it cannot rebuild it or retry its dead letters)."""
  codeVersion: Int
  """The generation serving reads; null before the projection is set up."""
  live: ProjectionGeneration
  """A rebuild under way, if any."""
  building: ProjectionGeneration
  pendingDeadLetters: Int!
  """Busiest live partition's events / mean (1 is even); null with one partition."""
  skew: Float
  idleWorkers: [IdleWorker!]!
}

"""An open transaction that holds the log's readers back: while it runs, the head stays below its events and every projection waits."""
type LogHoldback {
  pid: Int!
  applicationName: String!
  transactionStartedAt: String!
  ageMs: Float!
  state: String!
  query: String!
}

type ProjectionsReport {
  """The log's head as the report was read: the newest position readers can see."""
  head: String!
  """The session holding the log back for a second or more, if any."""
  logHeldBackBy: LogHoldback
  projections: [ProjectionReport!]!
}

type RebuildStarted {
  projection: String!
  generation: Int!
  version: Int!
  """BUILDING: readers switch to it once it has caught up. LIVE: the projection had no live generation, so this one serves reads while it catches up."""
  status: GenerationStatus!
  """It replays the log from after this position."""
  from: String!
  """A rebuild of this version was under way already: it goes on (with its own from)."""
  resumed: Boolean!
}

type ResumedProjection {
  projection: String!
  """How many stopped partitions will run again."""
  partitions: Int!
}

enum DeadLetterStatus {
  PENDING
  RETRIED
  SKIPPED
}

enum DeadLetterStatusFilter {
  PENDING
  RETRIED
  SKIPPED
  ALL
}

"""An event a projection's handler kept failing on; the projection went on past it."""
type DeadLetter {
  id: ID!
  projection: String!
  generation: Int!
  partition: Int!
  """The event's global position."""
  position: String!
  eventId: ID!
  streamId: ID!
  streamVersion: Int!
  eventType: String!
  """The handler's error message."""
  error: String!
  stack: String
  attempts: Int!
  status: DeadLetterStatus!
  failedAt: String!
  resolvedAt: String
  """The event itself (null if no longer in the log)."""
  event: LogEvent
}

"""The kind of place a data subject's plaintext was found in."""
enum ErasurePlace {
  """The subject still has a data key: their personal fields can be read."""
  KEY
  """Events holding the plaintext outside sealed fields."""
  EVENTS
  """Snapshots of streams holding the subject's fields, or holding the plaintext."""
  SNAPSHOTS
  """A projection's declared personal columns (rebuild it to rewrite them redacted)."""
  READ_MODEL
  """Parked outbox messages whose error holds the plaintext."""
  OUTBOX
  """Dead letters whose error message or stack holds the plaintext."""
  DEAD_LETTERS
}

"""Where plaintext of a data subject was found."""
type ErasureFinding {
  place: ErasurePlace!
  """What holds it, for people: 'read model account-balances: account_balances.owner (rebuild it ...)'."""
  what: String!
  """How many rows (events, snapshots, read-model rows, messages)."""
  count: Int!
  """A few of them: stream ids, stream@position, read-model keys, outbox/message ids."""
  examples: [String!]!
}

"""Whether a data subject's personal data is gone (docs/privacy.md)."""
type ErasureReport {
  subject: String!
  """The subject has no data key: every personal field sealed for them reads as its redacted value."""
  forgotten: Boolean!
  """Distinct plaintext values searched for (values under 3 characters are not)."""
  valuesSearched: Int!
  findings: [ErasureFinding!]!
  """Forgotten, and no plaintext found anywhere checked."""
  clean: Boolean!
}

"""What forgetSubject did."""
type ForgetResult {
  subject: String!
  """Data keys deleted: 0 when the subject had none (never seen, or forgotten before)."""
  keysDeleted: Int!
  """Snapshots dropped: those of the streams holding the subject's personal fields."""
  snapshotsDropped: Int!
  """Global position of the SubjectForgotten tombstone (stream annals_privacy-forgotten), as a string."""
  position: String!
  """Where the subject's plaintext is still found after the erasure: read models until they are rebuilt, say."""
  report: ErasureReport!
}

${connectionTypeDefs('LogEvent')}

${connectionTypeDefs('DeadLetter')}

extend type Query {
  """Where every projection stands (admin)."""
  projections: ProjectionsReport!
  """Projections' dead letters, oldest first; by default the pending ones of every projection (admin)."""
  deadLetters(projection: String, status: DeadLetterStatusFilter = PENDING, first: Int, after: String): DeadLetterConnection!
  """One stream, null when it was never appended to (admin)."""
  stream(id: ID!): Stream
  """The global log in position order, from the start, after a cursor or after a position, filtered by stream categories and event types (admin)."""
  events(first: Int, after: String, afterPosition: String, categories: [String!], types: [String!]): LogEventConnection!
  """Where a data subject's plaintext is still found: their key, the log, snapshots, parked outbox messages, the read models of this service's projections. Without values, it searches for their personal fields while their key exists; once they are forgotten, pass what you know of them (at most 100 values) (admin)."""
  erasure(subject: String!, values: [String!]): ErasureReport!
}

extend type Mutation {
  """Starts a blue/green rebuild of the projection (replay from the start, or after from), or answers with the one under way; its workers fill it and switch readers to it (admin). After retention removed history the replay needs, it fails with ANNALS_REMOVED_HISTORY unless acceptRemovedHistory is true."""
  rebuildProjection(name: String!, from: String, acceptRemovedHistory: Boolean): RebuildStarted!
  """Applies a dead letter's event again with the projection's current code, into the generation it failed in (admin)."""
  retryDeadLetter(id: ID!): DeadLetter!
  """Gives up on a dead letter: it stays listed, as SKIPPED, and is never applied (admin)."""
  skipDeadLetter(id: ID!): DeadLetter!
  """Lets the partitions a failure stopped run again, after the handler was fixed (admin)."""
  resumeProjection(name: String!): ResumedProjection!
  """Erases a data subject by crypto-shredding: deletes their data keys (their personal fields read redacted from then on), drops the snapshots of their streams, appends a SubjectForgotten tombstone, then reports where their plaintext is still found. Read models keep it until rebuilt (rebuildProjection) (admin)."""
  forgetSubject(subject: String!): ForgetResult!
}`;
