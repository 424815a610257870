#!/usr/bin/env node
// The `annals` command. It registers tsx's ESM loader first: the command is TypeScript,
// and so is the annals.config.ts it imports.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
