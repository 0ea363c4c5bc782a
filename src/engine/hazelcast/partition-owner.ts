import type { Client } from 'hazelcast-client';

/**
 * 'host:port' of the member owning the partition of `key` — for a queue, its
 * name (Hazelcast places a queue on the partition of its name). hazelcast-client
 * 5.6 exposes this: PartitionService.getPartitionId(key) and
 * getPartitionOwner(partitionId) (a member UUID), matched against
 * Cluster.getMembers(). Undefined while the client has no partition table yet
 * or the owner is unknown. The answer is only as fresh as the client's
 * partition table, which the cluster pushes after migrations.
 */
export function partitionOwnerAddress(client: Client, key: string): string | undefined {
  const partitions = client.getPartitionService();
  if (partitions.getPartitionCount() === 0) return undefined;
  const owner = partitions.getPartitionOwner(partitions.getPartitionId(key));
  if (!owner) return undefined;
  const id = owner.toString();
  const member = client.getCluster().getMembers().find((m) => m.uuid.toString() === id);
  return member ? `${member.address.host}:${member.address.port}` : undefined;
}
