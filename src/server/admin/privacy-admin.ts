/**
 * Erasure of personal data for the admin schema (docs/privacy.md): `forgetSubject`
 * crypto-shreds a data subject (forget), `erasure` reports where their plaintext is still
 * found (verifyErasure), both shaped for GraphQL.
 */
import { z } from 'zod';
import type { EventStore } from '../../event-store/event-store.js';
import { forget, subjectSchema } from '../../privacy/forget.js';
import { verifyErasure, type ErasureFinding, type ErasureReport } from '../../privacy/verify-erasure.js';
import type { AnyProjection } from '../../projections/define-projection.js';
import { parseInput } from '../../validation.js';

/** The kinds of place as the schema's `ErasurePlace` enum names them (GraphQL enum values cannot hold a dash). */
const places = {
  key: 'KEY',
  events: 'EVENTS',
  snapshots: 'SNAPSHOTS',
  'read-model': 'READ_MODEL',
  outbox: 'OUTBOX',
  'dead-letters': 'DEAD_LETTERS',
} as const satisfies Record<ErasureFinding['place'], string>;

export interface ErasureFindingNode extends Omit<ErasureFinding, 'place'> {
  place: (typeof places)[ErasureFinding['place']];
}

export interface ErasureReportNode extends Omit<ErasureReport, 'findings'> {
  findings: ErasureFindingNode[];
}

export interface ForgetNode {
  subject: string;
  keysDeleted: number;
  snapshotsDropped: number;
  /** The `SubjectForgotten` tombstone's global position, as a string (positions pass 2^53). */
  position: string;
  report: ErasureReportNode;
}

const toReportNode = (report: ErasureReport): ErasureReportNode => ({
  ...report,
  findings: report.findings.map((finding) => ({ ...finding, place: places[finding.place] })),
});

/**
 * `forgetSubject(subject)`: erases the data subject (forget), with the report checking the
 * read models of the projections this service has the code of.
 *
 * @throws ValidationError on `subject` (empty, over 255 characters, control characters,
 * white space at its ends).
 */
export async function forgetSubject(store: EventStore, projections: readonly AnyProjection[], subject: string): Promise<ForgetNode> {
  const result = await forget(store, subject, { projections });
  return {
    subject: result.subject,
    keysDeleted: result.keysDeleted,
    snapshotsDropped: result.snapshotsDropped,
    position: result.position.toString(),
    report: toReportNode(result.report),
  };
}

// Each value is one `strpos` over every event, snapshot and declared column: a bounded
// list keeps one request from scanning the log thousands of times; Postgres text holds no NUL.
const valuesSchema = z
  .array(
    z
      .string()
      .max(1000, { error: 'must be at most 1000 characters' })
      .refine((value) => !value.includes('\u0000'), { error: 'must not contain a NUL character' }),
  )
  .max(100, { error: 'must hold at most 100 values' });

const erasureArgsSchema = z.object({ subject: subjectSchema, values: valuesSchema.nullish() });

export interface ErasureArgs {
  subject: string;
  values?: readonly string[] | null;
}

/**
 * `erasure(subject, values)`: where the subject's plaintext is still found (verifyErasure),
 * in the log, snapshots, parked outbox messages and the read models of the projections
 * this service has the code of. Without `values`, it searches for the subject's personal
 * fields while their key exists; once forgotten, only for the values given.
 *
 * @throws ValidationError on `subject` or `values` (`values[2]`: over 1000 characters, a
 * NUL; more than 100 of them).
 */
export async function readErasureReport(store: EventStore, projections: readonly AnyProjection[], args: ErasureArgs): Promise<ErasureReportNode> {
  // Both arguments at once, so one answer names every bad one.
  const { subject, values } = parseInput(erasureArgsSchema, args, '');
  const report = await verifyErasure(store, subject, { projections, ...(values == null ? {} : { values }) });
  return toReportNode(report);
}
