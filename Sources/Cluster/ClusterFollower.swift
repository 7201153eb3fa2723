import BerthCore
import Etcd
import Logging

/// Follows the cluster: one watch on berth's prefix from the revision after the last
/// state seen, turning each event into changes. When etcd compacted that revision away,
/// or the watch gave up after an outage, the follower lists everything again and hands
/// over the difference, so a node converges whatever it missed.
public enum ClusterFollower {
    public static func run(
        store: ClusterStore, from initial: ClusterState, logger: Logger,
        apply: @escaping @Sendable ([ClusterChange]) async -> Void
    ) async {
        var state = initial
        var pause: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                for try await event in store.client.watch(prefix: ClusterKeys.root, fromRevision: state.revision + 1) {
                    let changes: [ClusterChange]
                    switch event {
                    case .put(let kv):
                        changes = state.apply(put: kv.key, value: kv.value, revision: kv.modRevision)
                    case .delete(let kv):
                        changes = state.apply(delete: kv.key, revision: kv.modRevision)
                    case .compacted(let revision):
                        logger.info("cluster watch fell behind compaction; listing again", metadata: ["revision": .stringConvertible(revision)])
                        changes = []
                    }
                    if !changes.isEmpty { await apply(changes) }
                    pause = .milliseconds(100)
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("cluster watch interrupted; listing again", metadata: ["error": .string("\(error)")])
            }
            // The watch ended (compaction, outage): list again until etcd answers.
            while !Task.isCancelled {
                do {
                    let newer = try await store.snapshot()
                    let changes = state.changes(to: newer)
                    state = newer
                    if !changes.isEmpty { await apply(changes) }
                    break
                } catch {
                    logger.debug("cluster listing failed", metadata: ["error": .string("\(error)")])
                    try? await Task.sleep(for: pause)  // cancelled: the loop's check ends it
                    pause = min(pause * 2, .seconds(2))
                }
            }
        }
    }
}
