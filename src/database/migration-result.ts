/** What `migrate()` reports (types only, so the store's interface can name it). */
export interface MigrationResult {
  /** Names of the migrations this call applied (empty when the schema was up to date). */
  applied: string[];
  /**
   * Present when this call found the log ahead of the server's transaction ids (the
   * store was moved to another cluster) and raised the position offset to match.
   */
  logOffset?: { previous: bigint; current: bigint };
}
