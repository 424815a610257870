// No vitest import here: child processes of the crash tests use it too.

/**
 * Retries `check` until it stops throwing. For assertions on readAll: a new event shows
 * up there only once every transaction that started before it has finished, and other
 * test files running in parallel hold transactions open (docs/global-log.md).
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
