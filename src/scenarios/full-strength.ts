/** Every member, broker and instance running again: each scenario starts from the whole lab. */
import type { LabActions } from './actions.js';
import type { Steps } from './runner.js';

export async function fullStrength(a: LabActions, steps: Steps): Promise<void> {
  await steps.run('bring every member, broker and instance up', async () => {
    const started: string[] = [];
    const m = a.members;
    if (m) {
      for (let i = 0; i < m.count; i++) {
        if (m.running(i)) continue;
        await m.start(i);
        started.push(`member-${i + 1}`);
      }
      await m.waitForSize(m.count);
    }
    const b = a.brokers;
    if (b) {
      for (let i = 0; i < b.count; i++) {
        if (b.running(i)) continue;
        await b.start(i);
        started.push(`broker-${i + 1}`);
      }
      await b.waitForFullIsr();
    }
    for (const name of [...a.instances('logging'), ...a.instances('messages')]) {
      if (a.isRunning(name)) continue;
      await a.start(name);
      started.push(name);
    }
    return started.length ? `started ${started.join(', ')}` : 'all were up';
  });
}
