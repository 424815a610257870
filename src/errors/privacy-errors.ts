/** Errors of personal data protection (docs/privacy.md). */
import { AnnalsError, ErrorCodes } from './annals-error.js';

export type PrivacyKeyProblem = 'missing' | 'malformed' | 'mismatch' | 'corrupt';

/**
 * The master key that wraps the data subjects' keys is missing, malformed, or not the one
 * the keys were wrapped with; or a stored ciphertext fails its authentication check.
 * Never raised for an erased subject: their personal fields read as redacted values.
 */
export class PrivacyKeyError extends AnnalsError {
  readonly problem: PrivacyKeyProblem;

  constructor(problem: PrivacyKeyProblem, message: string) {
    super(ErrorCodes.privacyKey, message);
    this.problem = problem;
  }
}
