/** Who holds which of a scenario's own messages: only its ids count, whatever else the stores hold. */
import type { StoredEntry } from './actions.js';

export interface Delivery {
  /** instance → how many of the ids it holds (a duplicate counted twice) */
  perInstance: Map<string, number>;
  /** instance → ids it holds more than once */
  duplicatesPerStore: Map<string, number>;
  /** ids held by no instance */
  missing: string[];
  /** ids held by more than one instance */
  inTwo: string[];
  /** ids held twice by one instance */
  twiceInOne: string[];
  /** id → the instance holding it (the first, when several) */
  holder: Map<string, string>;
}

export function delivery(stores: Map<string, StoredEntry[]>, ids: readonly string[]): Delivery {
  const wanted = new Set(ids);
  const holders = new Map<string, number>();
  const holder = new Map<string, string>();
  const perInstance = new Map<string, number>();
  const duplicatesPerStore = new Map<string, number>();
  const twiceInOne: string[] = [];
  for (const [name, entries] of stores) {
    const mine = entries.filter((e) => wanted.has(e.id)).map((e) => e.id);
    perInstance.set(name, mine.length);
    const twice = mine.filter((id, i) => mine.indexOf(id) !== i);
    duplicatesPerStore.set(name, twice.length);
    twiceInOne.push(...twice);
    for (const id of new Set(mine)) {
      holders.set(id, (holders.get(id) ?? 0) + 1);
      if (!holder.has(id)) holder.set(id, name);
    }
  }
  return {
    perInstance,
    duplicatesPerStore,
    missing: ids.filter((id) => !holders.has(id)),
    inTwo: ids.filter((id) => (holders.get(id) ?? 0) > 1),
    twiceInOne,
    holder,
  };
}

/** `messages-5001 52, messages-5002 48` */
export const perInstanceText = (m: Map<string, number>) => [...m].map(([n, c]) => `${n} ${c}`).join(', ') || 'none';
