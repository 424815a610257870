/** The stream `forget` appends its tombstones to: one `SubjectForgotten` event per erasure. */
export const forgottenStream = 'annals_privacy-forgotten';

/** The data of a tombstone. */
export interface SubjectForgotten {
  subject: string;
  keysDeleted: number;
  snapshotsDropped: number;
}
