import type { MessageQueue } from '../../engine/ports.js';
import type { Metrics } from '../../shared/metrics.js';
import type { InstanceDirectory } from './directory.js';
import type { InstanceCaller } from './resilience.js';

/** The facade's own series: retries, breaker states, queue depth, registered instances. */
export function facadeMetrics(metrics: Metrics, o: { directory: InstanceDirectory; policies: InstanceCaller; queue: MessageQueue }): void {
  const retries = metrics.counter('facade_retries_total', 'Calls to an instance retried on another, by the service called.', ['target_service']);
  o.policies.onRetry = (service) => retries.inc({ target_service: service });
  const states = { closed: 0, 'half-open': 1, open: 2, isolated: 3 } as const;
  metrics.gauge(
    'facade_breaker_state',
    'Circuit breaker per instance: 0 closed, 1 half-open, 2 open.',
    (g) => {
      g.reset();
      for (const r of o.directory.all()) g.set({ target: r.instance, target_service: r.service }, states[o.policies.breakerState(r)]);
    },
    ['target', 'target_service'],
  );
  metrics.gauge('queue_depth', 'Items in the shared queue not yet acknowledged.', async (g) => g.set(await o.queue.depth().catch(() => -1)));
  metrics.gauge(
    'registered_instances',
    'Live instances in the registry, by service.',
    (g) => {
      g.reset();
      for (const s of ['logging', 'messages'] as const) g.set({ target_service: s }, o.directory.all().filter((r) => r.service === s).length);
    },
    ['target_service'],
  );
}
