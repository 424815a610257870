import { ValidationError } from '../../errors.js';

/**
 * Loads one of the optional peer dependencies a security feature needs
 * (`@fastify/helmet`, `@fastify/cors`, `@fastify/jwt`, `@fastify/rate-limit`): a project
 * that turns the feature off need not install it. One that turns it on without it gets a
 * ValidationError naming the option, rather than a bare module-not-found at start.
 *
 * `load` is the `import()` itself, written out at the call site, so that bundlers and the
 * type checker see the module's name.
 */
export async function loadOptionalPackage<Module>(name: string, field: string, load: () => Promise<Module>): Promise<Module> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(name)) {
      throw new ValidationError([{ field, reason: `needs the package ${name}: npm install ${name}, or turn the option off` }]);
    }
    throw error;
  }
}
