import { handleCommand, type CommandInput, type EventStore, type ProjectedEvent } from 'annals';
import { bankAccount, bankAccountCommands, bankAccountEvents, maxAmount, type BankAccountState } from '../../../../domain/bank-account/index.js';
import { everyEvent, seededRandom } from './examples.js';

type Random = ReturnType<typeof seededRandom>;
const owners = ['ada', 'grace', 'edsger', 'barbara', 'donald', 'frances'];

/** Resolves when `command` is refused with `code`; anything else is a failure of the test. */
async function refused(command: Promise<unknown>, code: string): Promise<void> {
  await command.then(
    () => Promise.reject(new Error(`expected ${code}, but the command was accepted`)),
    (error: { code?: string }) => (error.code === code ? undefined : Promise.reject(error)),
  );
}

/**
 * Customers opening accounts, moving money and closing accounts through the real
 * aggregate, several accounts at once. Amounts are mostly small, sometimes near the
 * largest a deposit may be (10^12), so balances pass 2^31. Some commands break a rule
 * (overdraft, a closed account) and are refused, appending nothing.
 */
export function bankSimulation(store: EventStore, random: Random, options: { accounts: number; workers?: number }) {
  const workers = options.workers ?? 6;
  const accounts = new Map<string, Pick<BankAccountState, 'status' | 'balance'>>();
  const amount = () => (random.next() < 0.1 ? 1 + random.below(maxAmount) : 1 + random.below(100_000));
  const step = async (id: string) => {
    const account = accounts.get(id) ?? { status: 'unopened', balance: 0 };
    accounts.set(id, account);
    const send = (command: CommandInput<typeof bankAccountCommands>) => handleCommand(store, bankAccount, id, command);
    const r = random.next();
    if (account.status === 'unopened') {
      await send({ type: 'OpenAccount', data: { accountId: id, owner: random.pick(owners) } });
      account.status = 'open';
    } else if (account.status === 'closed') {
      await refused(send({ type: 'DepositMoney', data: { amount: amount() } }), 'ACCOUNT_CLOSED');
    } else if (r < 0.5) {
      const deposit = amount();
      await send({ type: 'DepositMoney', data: { amount: deposit } });
      account.balance += deposit;
    } else if (r < 0.9) {
      const overdraft = random.next() < 0.1 && account.balance < maxAmount;
      const withdrawal = overdraft ? account.balance + 1 : 1 + random.below(Math.max(1, Math.min(account.balance, maxAmount)));
      if (withdrawal > account.balance) {
        await refused(send({ type: 'WithdrawMoney', data: { amount: withdrawal } }), 'ACCOUNT_INSUFFICIENT_FUNDS');
        return;
      }
      await send({ type: 'WithdrawMoney', data: { amount: withdrawal } });
      account.balance -= withdrawal;
    } else if (r < 0.95) {
      // Closing needs a zero balance: pay the rest out first (at most maxAmount at a time).
      while (account.balance > 0) {
        const payout = Math.min(account.balance, maxAmount);
        await send({ type: 'WithdrawMoney', data: { amount: payout } });
        account.balance -= payout;
      }
      await send({ type: 'CloseAccount', data: {} });
      account.status = 'closed';
    }
  };
  return {
    /** About `commands` commands; each worker acts on its own accounts. */
    async run(commands: number): Promise<void> {
      const loop = async (worker: number) => {
        for (let i = worker; i < commands; i += workers) {
          await step(`acc${random.below(Math.ceil(options.accounts / workers)) * workers + worker}`);
        }
      };
      await Promise.all(Array.from({ length: workers }, (_, worker) => loop(worker)));
    },
  };
}

export type BankEvent = ProjectedEvent<typeof bankAccountEvents>;

/** Every bank-account event of the log, decoded by the domain's own codec. */
export async function bankEventsOf(store: EventStore): Promise<BankEvent[]> {
  const events = await everyEvent(store, { categories: [bankAccount.category] });
  return events.map((event) => ({ ...event, ...bankAccount.eventCodec.decode(event) }) as BankEvent);
}
