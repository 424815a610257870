/** The bank account domain: one import for its aggregate, schemas and errors. */
export { bankAccount, type BankAccountState } from './bank-account.aggregate.js';
export { bankAccountCommands } from './bank-account.commands.js';
export * from './bank-account.errors.js';
export { amountSchema, bankAccountEvents, maxAmount, maxBalance } from './bank-account.events.js';
